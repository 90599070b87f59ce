/** Two small DOM helpers for the panel (no JupyterLab imports, so jest tests the views). */

/** `<tag attrs>children</tag>`; the attribute `class` sets the class name. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [key: string]: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') {
      node.className = value;
    } else {
      node.setAttribute(key, value);
    }
  }
  node.append(...children);
  return node;
}

/** A JupyterLab-styled button with a `data-ipyckpt` handle for tests. */
export function button(
  label: string,
  id: string,
  onClick: () => void,
  kind: 'accept' | 'warn' | 'plain' = 'plain'
): HTMLButtonElement {
  const b = el('button', {
    class: `jp-Button jp-mod-styled jp-ipyckpt-button${kind === 'plain' ? ' jp-mod-reject' : ` jp-mod-${kind}`}`,
    'data-ipyckpt': id
  });
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

/** Set a text only when it changed (no needless DOM mutations for observers and screen readers). */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}
