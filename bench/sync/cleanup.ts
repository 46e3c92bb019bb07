/**
 * Everything the harness creates (processes, network namespaces, folders) is
 * registered here and undone on every way out: normal end, error, Ctrl-C,
 * SIGTERM. Undo steps are synchronous so they also run from an `exit` handler.
 */
type Undo = () => void;

const steps: { label: string; undo: Undo }[] = [];
let installed = false;
let ran = false;

/** Registers an undo step; returns a function that runs it now (once) and forgets it. */
export function onCleanup(label: string, undo: Undo): () => void {
  install();
  const step = { label, undo };
  steps.push(step);
  return () => {
    const index = steps.indexOf(step);
    if (index < 0) return;
    steps.splice(index, 1);
    undo();
  };
}

/** Runs every registered step, newest first; failures are reported, not thrown. */
export function cleanupAll(): void {
  if (ran) return;
  ran = true;
  for (const step of steps.splice(0).reverse()) {
    try {
      step.undo();
    } catch (error) {
      process.stderr.write(`cleanup of ${step.label} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up (processes, namespaces, temporary folders)...\n`);
      cleanupAll();
      process.exit(130);
    });
  }
}
