// CSV text of a table, for spreadsheets and scripts: RFC 4180 quoting,
// numbers at full precision, objects as JSON, missing values empty.

function cell(v) {
  if (v === null || v === undefined) return '';
  const t = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** toCsv([{label, get(row)}], rows) -> "a,b\r\n1,2\r\n" */
export function toCsv(columns, rows) {
  const lines = [columns.map((c) => cell(c.label)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(c.get(r))).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Offers `text` as a file download named `name`. */
export function download(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
