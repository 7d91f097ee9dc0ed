// QR code as an SVG path (no canvas, no data: fetch), from the vendored encoder.
import { html } from './lib.js';
import qrcode from '../vendor/qrcode.js';

export function QRCode({ text, label = 'QR code' }) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let d = '';
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (qr.isDark(y, x)) d += `M${x + 4} ${y + 4}h1v1h-1z`;
  const size = n + 8; // 4-module quiet zone on every side
  return html`<div class="qr"><svg viewBox="0 0 ${size} ${size}" role="img" aria-label=${label} shape-rendering="crispEdges">
    <rect width=${size} height=${size} fill="#fff" /><path d=${d} fill="#000" /></svg></div>`;
}
