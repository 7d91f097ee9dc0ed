// The zone editor: polygons drawn over the camera's current picture, stored
// as LightNVR's zones (points are fractions of the frame, 0..1 from top-left).
import { html, useState, useEffect, useRef } from './lib.js';
import { get, post, del, enc } from './api.js';
import { Modal, Field, Loading, ErrorBanner, Spinner, toast, confirmDialog } from './ui.js';

const COLORS = ['#3b82f6', '#ef4444', '#22c55e', '#eab308', '#a855f7', '#f97316'];
const MAX_ZONES = 16;
const MAX_POINTS = 32;

// Zone ids are unique across streams, so a new one carries the time and a random part.
function newZone(n) {
  return {
    id: 'zone-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 8),
    name: 'Zone ' + n, enabled: true, color: COLORS[(n - 1) % COLORS.length], polygon: [],
    filter_classes: '', min_confidence: 0,
  };
}

const round = v => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

function checkZones(zones) {
  for (const z of zones) {
    if (!z.name.trim()) return 'Every zone needs a name';
    if (z.polygon.length < 3) return `${z.name}: click at least 3 points on the picture`;
    if (!(z.min_confidence >= 0 && z.min_confidence <= 100)) return `${z.name}: minimum confidence is 0–100 %`;
  }
  return '';
}

// Picture is the stream's current frame from go2rtc, with the zones drawn
// over it; a click adds a point to the selected zone.
function Picture({ stream, zones, selected, onPoint }) {
  const [gen, setGen] = useState(() => Date.now());
  const [state, setState] = useState('loading');
  const svg = useRef(null);
  const click = e => {
    const r = svg.current.getBoundingClientRect();
    if (r.width && r.height) onPoint({ x: round((e.clientX - r.left) / r.width), y: round((e.clientY - r.top) / r.height) });
  };
  return html`<div>
    <div class="zone-canvas" data-state=${state}>
      <img src=${'/go2rtc/api/frame.jpeg?src=' + enc(stream) + '&cache=' + gen} alt=${'Current picture of ' + stream}
        onLoad=${() => setState('ready')} onError=${() => setState('error')} data-testid="zone-picture" />
      ${state !== 'ready' && html`<div class="center">${state === 'error' ? 'No picture from the camera: zones can still be drawn' : 'Loading the picture…'}</div>`}
      <svg ref=${svg} viewBox="0 0 1 1" preserveAspectRatio="none" onClick=${click} data-testid="zone-draw"
        role="img" aria-label="Zones; click to add a point to the selected zone">
        ${zones.map((z, i) => html`<g key=${z.id} class=${i === selected ? 'sel' : ''} opacity=${z.enabled ? 1 : 0.45}>
          <polygon points=${z.polygon.map(p => p.x + ',' + p.y).join(' ')} fill=${z.color} fill-opacity="0.25" stroke=${z.color} />
          ${i === selected && z.polygon.map((p, j) => html`<circle key=${j} cx=${p.x} cy=${p.y} r="0.008" fill=${z.color} />`)}
        </g>`)}
      </svg>
    </div>
    <div class="toolbar"><button type="button" class="small" onClick=${() => { setState('loading'); setGen(Date.now()); }}>Refresh picture</button>
      <span class="muted">Select a zone, then click on the picture to add its corners.</span></div>
  </div>`;
}

function ZoneRow({ z, i, selected, onSelect, change, remove }) {
  const upd = k => v => change(i, { [k]: v });
  return html`<div class=${'card zone-row' + (selected ? ' selected' : '')} data-zone=${z.id}>
    <div class="toolbar">
      <button type="button" class="small" aria-pressed=${selected ? 'true' : 'false'} onClick=${() => onSelect(i)}>${selected ? 'Drawing' : 'Draw'}</button>
      <span class="grow muted">${z.polygon.length} point${z.polygon.length === 1 ? '' : 's'}</span>
      <button type="button" class="small" onClick=${() => change(i, { polygon: z.polygon.slice(0, -1) })} disabled=${!z.polygon.length}>Undo point</button>
      <button type="button" class="small" onClick=${() => change(i, { polygon: [] })} disabled=${!z.polygon.length}>Clear</button>
      <button type="button" class="small" onClick=${() => remove(i)} aria-label=${'Remove zone ' + z.name}>Remove</button>
    </div>
    <div class="grid-form">
      <${Field} id=${'zone-name-' + i} label="Name" value=${z.name} onInput=${upd('name')} />
      <${Field} id=${'zone-classes-' + i} label="Only these labels" value=${z.filter_classes} onInput=${upd('filter_classes')} placeholder="person, car" hint="Empty: every label" />
      <${Field} id=${'zone-conf-' + i} label="Minimum confidence (%)" type="number" min="0" max="100" value=${z.min_confidence} onInput=${upd('min_confidence')} />
      <div class="field"><label for=${'zone-color-' + i}>Colour</label>
        <input id=${'zone-color-' + i} type="color" value=${z.color} onInput=${e => change(i, { color: e.target.value })} /></div>
      <${Field} type="checkbox" id=${'zone-enabled-' + i} label="Enabled" value=${z.enabled} onInput=${upd('enabled')} />
    </div>
  </div>`;
}

// ZoneEditor edits the zones of stream (a stream object) in a dialog.
export function ZoneEditor({ stream, onClose }) {
  const name = stream.name;
  const [zones, setZones] = useState(null);
  const [selected, setSelected] = useState(0);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () => get('/api/streams/' + enc(name) + '/zones')
    .then(r => setZones(((r && r.zones) || []).map(z => ({ ...z, enabled: z.enabled !== false, filter_classes: z.filter_classes || '',
      color: z.color || COLORS[0], min_confidence: Math.round((z.min_confidence || 0) * 100) }))))
    .catch(setError);
  useEffect(() => { load(); }, []);

  const change = (i, vals) => setZones(zs => zs.map((z, j) => (j === i ? { ...z, ...vals } : z)));
  const add = () => { setZones(zs => [...zs, newZone(zs.length + 1)]); setSelected(zones.length); };
  const remove = i => { setZones(zs => zs.filter((_, j) => j !== i)); setSelected(0); };
  const point = p => {
    const z = zones[selected];
    if (!z) { toast('Add a zone first', 'error'); return; }
    if (z.polygon.length >= MAX_POINTS) { toast(`A zone has at most ${MAX_POINTS} points`, 'error'); return; }
    change(selected, { polygon: [...z.polygon, p] });
  };
  const save = async () => {
    const msg = checkZones(zones);
    if (msg) { setError(new Error(msg)); return; }
    setBusy(true); setError(null);
    try {
      const body = zones.map(z => ({ ...z, name: z.name.trim(), min_confidence: Number(z.min_confidence) / 100 }));
      await post('/api/streams/' + enc(name) + '/zones', { zones: body });
      toast(`Zones of ${name} saved`, 'ok');
      onClose();
    } catch (e) { setError(e); setBusy(false); }
  };
  const removeAll = async () => {
    if (!await confirmDialog('Delete zones', `Delete every zone of ${name}? Detections then count anywhere in the picture.`)) return;
    setBusy(true); setError(null);
    try { await del('/api/streams/' + enc(name) + '/zones'); toast(`Zones of ${name} deleted`, 'ok'); onClose(); }
    catch (e) { setError(e); setBusy(false); }
  };
  return html`<${Modal} title=${'Detection zones of ' + name} onClose=${onClose} wide footer=${html`
      <button type="button" class="danger" onClick=${removeAll} disabled=${busy || !zones} data-testid="zones-delete">Delete all zones</button>
      <span class="grow"></span>
      <button type="button" onClick=${onClose}>Cancel</button>
      <button type="button" class="primary" onClick=${save} disabled=${busy || !zones} data-testid="zones-save">${busy && html`<${Spinner} label="Saving" />`} Save zones</button>`}>
    ${!zones ? html`<${Loading} what="Loading zones" />` : html`
      <${Picture} stream=${name} zones=${zones} selected=${selected} onPoint=${point} />
      <p class="muted">Without enabled zones a detection counts anywhere in the picture. With zones it counts when the centre of its box is inside one.</p>
      ${zones.map((z, i) => html`<${ZoneRow} key=${z.id} z=${z} i=${i} selected=${i === selected} onSelect=${setSelected} change=${change} remove=${remove} />`)}
      <button type="button" onClick=${add} disabled=${zones.length >= MAX_ZONES} data-testid="zone-add">Add zone</button>`}
    <div class="zone-error"><${ErrorBanner} error=${error} /></div>
  <//>`;
}
