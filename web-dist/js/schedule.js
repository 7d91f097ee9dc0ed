// A weekly recording schedule: 168 hourly switches, index weekday * 24 + hour
// of the server's local time, Sunday being weekday 0 (LightNVR's layout).
import { html } from './lib.js';
import { Field } from './ui.js';

const SLOTS = 168;
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const HOURS = Array.from({ length: 24 }, (_, h) => h);

// fullSchedule is a schedule that allows every hour.
export const fullSchedule = () => Array(SLOTS).fill(true);

// normal reads a schedule from the server; anything but 168 entries allows every hour, as the server does.
const normal = s => (Array.isArray(s) && s.length === SLOTS ? s : fullSchedule());

// ScheduleFields edits one schedule switch (on: record only in the marked hours) and its grid.
export function ScheduleFields({ id, label, on, schedule, setOn, setSchedule }) {
  const sched = normal(schedule);
  const flip = idx => {
    // A row or column is switched as one: all on unless all were on already.
    const all = idx.every(i => sched[i]);
    const next = [...sched];
    for (const i of idx) next[i] = !all;
    setSchedule(next);
  };
  const day = d => HOURS.map(h => d * 24 + h);
  const hour = h => DAYS.map((_, d) => d * 24 + h);
  return html`<div>
    <${Field} type="checkbox" id=${id} label=${label} value=${on} onInput=${setOn} hint="Hours of the server's local time" />
    ${on && html`<div class="table-wrap schedule"><table data-testid=${id + '-grid'}>
      <thead><tr><th></th>${HOURS.map(h => html`<th><button type="button" class="slot-head" onClick=${() => flip(hour(h))} aria-label=${'Switch ' + h + ':00 on every day'}>${h}</button></th>`)}</tr></thead>
      <tbody>${DAYS.map((name, d) => html`<tr data-day=${d}>
        <th><button type="button" class="slot-head" onClick=${() => flip(day(d))} aria-label=${'Switch all of ' + name}>${name}</button></th>
        ${HOURS.map(h => { const i = d * 24 + h; return html`<td><button type="button" class="slot" aria-pressed=${sched[i] ? 'true' : 'false'}
          onClick=${() => flip([i])} aria-label=${name + ' ' + h + ':00'} title=${name + ' ' + h + ':00–' + (h + 1) + ':00'}></button></td>`; })}
      </tr>`)}</tbody></table></div>`}
  </div>`;
}
