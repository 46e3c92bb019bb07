/**
 * Obsidian's DOM helpers (createEl, createDiv, empty, setText, ...), which the
 * app adds to HTMLElement. Installed for jsdom specs and the screenshot page.
 */
export interface DomInfo {
  cls?: string | string[];
  text?: string;
  attr?: Record<string, string | number | boolean | null>;
}

function apply(el: HTMLElement, info?: DomInfo | string): HTMLElement {
  const o: DomInfo = typeof info === 'string' ? { cls: info } : (info ?? {});
  if (o.cls) el.className = Array.isArray(o.cls) ? o.cls.join(' ') : o.cls;
  if (o.text !== undefined) el.textContent = o.text;
  for (const [k, v] of Object.entries(o.attr ?? {})) if (v !== null && v !== false) el.setAttribute(k, String(v));
  return el;
}

export function installObsidianDom(win: Window & typeof globalThis): void {
  const proto = win.HTMLElement.prototype as unknown as Record<string, unknown>;
  if (proto.createEl) return;
  const doc = win.document;
  proto.createEl = function (this: HTMLElement, tag: string, info?: DomInfo | string) {
    return this.appendChild(apply(doc.createElement(tag), info));
  };
  proto.createDiv = function (this: HTMLElement, info?: DomInfo | string) {
    return this.appendChild(apply(doc.createElement('div'), info));
  };
  proto.createSpan = function (this: HTMLElement, info?: DomInfo | string) {
    return this.appendChild(apply(doc.createElement('span'), info));
  };
  proto.empty = function (this: HTMLElement) {
    while (this.firstChild) this.removeChild(this.firstChild);
  };
  proto.setText = function (this: HTMLElement, text: string) {
    this.textContent = text;
  };
  proto.appendText = function (this: HTMLElement, text: string) {
    this.appendChild(doc.createTextNode(text));
  };
  proto.addClass = function (this: HTMLElement, ...classes: string[]) {
    this.classList.add(...classes);
  };
  proto.removeClass = function (this: HTMLElement, ...classes: string[]) {
    this.classList.remove(...classes);
  };
  proto.hasClass = function (this: HTMLElement, cls: string) {
    return this.classList.contains(cls);
  };
  proto.toggleClass = function (this: HTMLElement, cls: string, on: boolean) {
    this.classList.toggle(cls, on);
  };
  proto.setAttr = function (this: HTMLElement, name: string, value: string | number | boolean | null) {
    if (value === null) this.removeAttribute(name);
    else this.setAttribute(name, String(value));
  };
  const g = win as unknown as Record<string, unknown>;
  g.createEl = (tag: string, info?: DomInfo | string) => apply(doc.createElement(tag), info);
  g.createDiv = (info?: DomInfo | string) => apply(doc.createElement('div'), info);
  g.createSpan = (info?: DomInfo | string) => apply(doc.createElement('span'), info);
}
