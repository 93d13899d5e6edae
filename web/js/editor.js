// A JSON text editor that can mark ranges: a plain <textarea> over a <pre>
// backdrop holding the same text with <mark>s, kept aligned by identical
// fonts, no wrapping and synchronised scrolling. It stays a real textarea
// (undo, paste, accessibility) without an editor library.

import { h, fill } from './dom.js';

export function jsonEditor({ onInput, rows = 28 }) {
  const backdrop = h('pre', { class: 'backdrop', 'aria-hidden': 'true' });
  const area = h('textarea', {
    class: 'code', rows, spellcheck: 'false', wrap: 'off', autocomplete: 'off', name: 'document',
    'aria-label': 'experiment or sweep JSON',
    oninput: () => { paint([]); onInput?.(area.value); },
    onscroll: () => { backdrop.scrollTop = area.scrollTop; backdrop.scrollLeft = area.scrollLeft; },
    onkeydown: (e) => {
      // Tab indents instead of leaving the editor.
      if (e.key === 'Tab' && !e.shiftKey) {
        e.preventDefault();
        area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
        area.dispatchEvent(new Event('input'));
      }
    },
  });
  const el = h('div', { class: 'editor' }, backdrop, area);

  /** marks: [{start, end, title}] (offsets into the text), drawn in order. */
  function paint(marks) {
    const text = area.value;
    const parts = [];
    let at = 0;
    for (const m of [...marks].sort((a, b) => a.start - b.start)) {
      if (m.start < at) continue;
      parts.push(text.slice(at, m.start), h('mark', {}, text.slice(m.start, Math.max(m.end, m.start + 1)) || ' '));
      at = Math.max(m.end, m.start + 1);
    }
    parts.push(text.slice(at) + '\n');
    fill(backdrop, parts);
    backdrop.scrollTop = area.scrollTop;
    backdrop.scrollLeft = area.scrollLeft;
  }

  return {
    el,
    area,
    paint,
    get value() { return area.value; },
    set value(v) { area.value = v; paint([]); },
    select(start, end) {
      area.focus();
      area.setSelectionRange(start, end);
    },
  };
}
