/**
 * The FrameStream port on an iroh bidirectional stream: after the opener's
 * header (see framing.ts), frames of `u32 BE length | payload`, at most
 * MAX_STREAM_FRAME_BYTES each, checked on both sides.
 *
 * Back-pressure comes from QUIC flow control: bytes are read from iroh only
 * when `read()` is called, so a reader that stops reading stops granting
 * credit, the other side's iroh write stalls, and so does its `write()`.
 * `write()` resolves once its frame is handed to iroh, which happens when the
 * previous frame has been fully written: one frame in iroh's hands and one
 * being converted, never more, whatever the caller does.
 */
import type * as Iroh from '@number0/iroh/index.js';
import { MAX_STREAM_FRAME_BYTES, type FrameStream } from '../core/ports';
import { PeerProtocolError, VaultPeersError } from '../core/errors';
import { FrameReader, FrameTooLargeError, fromBindingBytes, lengthPrefixed, toBindingBytes } from './framing';
import { irohErrorMessage, lostConnectionText } from './iroh-errors';

/** Reset and stop codes on sub-protocol streams. */
export const STREAM_ABANDONED = 0n;
export const STREAM_PROTOCOL_ERROR = 1n;
export const STREAM_DECLINED = 2n;

/**
 * How much one binding call reads or writes. Measured between two processes:
 * 256 KiB pieces beat 1 MiB ones (every byte is a JavaScript array element
 * crossing the binding one by one, and a 1 MiB array is 8 MiB of it).
 */
const READ_CHUNK_BYTES = 256 * 1024;
const WRITE_PIECE_BYTES = 256 * 1024;

/** A stream that broke: the reason says which side did what. */
export class StreamError extends VaultPeersError {}

function remoteEndError(error: unknown, protocol: string): StreamError {
  const message = irohErrorMessage(error);
  const code = /\b(?:Reset|Stopped)\((\d+)\)/.exec(message)?.[1];
  if (code === String(STREAM_PROTOCOL_ERROR)) return new StreamError(`The other device broke off the "${protocol}" stream: it received a frame it could not accept.`);
  if (code === String(STREAM_DECLINED)) return new StreamError(`The other device does not take "${protocol}" streams now.`);
  if (code !== undefined) return new StreamError(`The other device abandoned the "${protocol}" stream.`);
  return new StreamError(`The "${protocol}" stream broke: ${lostConnectionText(message) ?? message}`);
}

export interface FrameStreamHooks {
  /** Bytes arrived: the other side is alive. */
  readonly heard: () => void;
  /** The stream is done both ways (or broke): the connection forgets it. */
  readonly ended: (stream: IrohFrameStream) => void;
}

export class IrohFrameStream implements FrameStream {
  private failure: Error | null = null;
  /** Rejecters of the guarded steps still pending: a failure rejects them all. */
  private readonly guarded = new Set<(error: Error) => void>();
  private reading = false;
  private remoteFinished = false;
  private localFinished = false;
  /** Both sides finished cleanly. */
  private done = false;
  /** The frame iroh is writing now. */
  private inFlight: Promise<void> = Promise.resolve();
  /** Frames waiting for their turn, in call order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly protocol: string,
    private readonly send: Iroh.SendStream,
    private readonly recv: Iroh.RecvStream,
    private readonly reader: FrameReader,
    private readonly hooks: FrameStreamHooks,
  ) {}

  read(): Promise<Uint8Array | null> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve(null);
    if (this.reading) return Promise.reject(new StreamError('One read at a time: wait for the previous read to settle.'));
    this.reading = true;
    return this.pull().finally(() => {
      this.reading = false;
    });
  }

  write(frame: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.localFinished) return Promise.reject(new StreamError(`The "${this.protocol}" stream was finished: nothing more can be written.`));
    if (!(frame instanceof Uint8Array)) return Promise.reject(new TypeError('A frame is a Uint8Array.'));
    if (frame.length > MAX_STREAM_FRAME_BYTES) {
      return Promise.reject(new StreamError(`A frame of ${frame.length} bytes is over the limit of ${MAX_STREAM_FRAME_BYTES}: split it.`));
    }
    const framed = lengthPrefixed(frame);
    let handed: Promise<void> = this.queue;
    for (let at = 0; at < framed.length; at += WRITE_PIECE_BYTES) {
      const piece = framed.subarray(at, at + WRITE_PIECE_BYTES);
      handed = handed.then(() => this.handOver(piece));
    }
    this.queue = handed.catch(() => undefined);
    return handed;
  }

  /** Gives iroh one piece once the previous one is written: one piece in flight and one converted, never more. */
  private async handOver(piece: Uint8Array): Promise<void> {
    // Converted while iroh may still be writing the previous piece: the two overlap.
    const bytes = toBindingBytes(piece);
    await this.guard(this.inFlight);
    this.throwIfFailed();
    this.inFlight = this.send.writeAll(bytes).catch((error: unknown) => {
      throw this.fail(remoteEndError(error, this.protocol), false);
    });
    this.inFlight.catch(() => undefined);
  }

  async finish(): Promise<void> {
    this.throwIfFailed();
    if (this.localFinished) return;
    this.localFinished = true;
    await this.guard(this.queue);
    await this.guard(this.inFlight);
    this.throwIfFailed();
    try {
      await this.guard(this.send.finish());
    } catch (error) {
      throw this.fail(error instanceof StreamError ? error : remoteEndError(error, this.protocol), false);
    }
    this.endIfDone();
  }

  reset(): void {
    if (this.failure || this.done) return;
    this.fail(new StreamError(`The "${this.protocol}" stream was abandoned on this device.`), true, STREAM_ABANDONED);
  }

  /** Turned away before anyone read it: nobody here takes this protocol now. */
  decline(): void {
    if (this.done) return;
    this.fail(new StreamError(`Nobody here takes "${this.protocol}" streams.`), true, STREAM_DECLINED);
  }

  /** The connection ended: pending and later calls reject with `reason`. Nothing is sent. */
  abort(reason: string): void {
    if (this.done) return;
    this.fail(new StreamError(reason), false);
  }

  private async pull(): Promise<Uint8Array | null> {
    for (;;) {
      let frame: Uint8Array | null;
      try {
        frame = this.reader.next();
      } catch (error) {
        if (!(error instanceof FrameTooLargeError)) throw error;
        // Refused on its announced length, before its body is read.
        throw this.fail(
          new PeerProtocolError(`The other device sent a frame of ${error.length} bytes on the "${this.protocol}" stream (at most ${error.limit}).`),
          true,
          STREAM_PROTOCOL_ERROR,
        );
      }
      if (frame) return frame;
      if (this.remoteFinished) {
        if (this.reader.pending > 0) {
          throw this.fail(new PeerProtocolError(`The other device ended the "${this.protocol}" stream in the middle of a frame.`), true, STREAM_PROTOCOL_ERROR);
        }
        this.endIfDone();
        return null;
      }
      let chunk: number[];
      try {
        chunk = await this.guard(this.recv.read(READ_CHUNK_BYTES));
      } catch (error) {
        throw error instanceof StreamError ? error : this.fail(remoteEndError(error, this.protocol), false);
      }
      this.throwIfFailed();
      if (chunk.length === 0) {
        this.remoteFinished = true;
        continue;
      }
      this.hooks.heard();
      this.reader.push(fromBindingBytes(chunk));
    }
  }

  /**
   * `step`, unless the stream fails first. Not `Promise.race` with one
   * promise of the stream's failure: every race leaves a reaction on that
   * promise, holding its step's result (a read chunk: 8 bytes of heap per
   * byte) until the stream ends, so a long session kept all it received.
   */
  private guard<T>(step: Promise<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.guarded.add(reject);
      step.then(
        (value) => {
          this.guarded.delete(reject);
          resolve(value);
        },
        (error: Error) => {
          this.guarded.delete(reject);
          reject(error);
        },
      );
    });
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Fails the stream once; with `tellPeer`, resets our sending half and stops reading theirs. */
  private fail(error: Error, tellPeer: boolean, code: bigint = STREAM_ABANDONED): Error {
    if (this.failure) return this.failure;
    this.failure = error;
    for (const reject of this.guarded) reject(error);
    this.guarded.clear();
    if (tellPeer) {
      // iroh runs these after any write or read still pending on the same half.
      this.send.reset(code).catch(() => undefined);
      this.recv.stop(code).catch(() => undefined);
    }
    this.hooks.ended(this);
    return error;
  }

  private endIfDone(): void {
    if (this.localFinished && this.remoteFinished && !this.failure && !this.done) {
      this.done = true;
      this.hooks.ended(this);
    }
  }
}
