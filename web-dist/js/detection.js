// A stream's recording mode and detection settings, as fields of the stream form.
import { html, useState, useEffect } from './lib.js';
import { get } from './api.js';
import { Field } from './ui.js';
import { ScheduleFields, fullSchedule } from './schedule.js';

// The four modes come from two flags, as the server reads them:
// record alone is continuous, detection_based_recording alone writes clips
// around events, both is continuous with detections linked to the segments.
export const MODES = [
  ['off', 'Off: record nothing'],
  ['continuous', 'Continuous'],
  ['detection', 'Detection only: clips around events'],
  ['annotation', 'Continuous with detection markers'],
];
const FLAGS = {
  off: { record: false, detection_based_recording: false },
  continuous: { record: true, detection_based_recording: false },
  detection: { record: false, detection_based_recording: true },
  annotation: { record: true, detection_based_recording: true },
};

export function modeOf(s) {
  if (s.record && s.detection_based_recording) return 'annotation';
  if (s.record) return 'continuous';
  if (s.detection_based_recording) return 'detection';
  return 'off';
}

export const MODE_LABEL = { off: 'Off', continuous: 'Continuous', detection: 'On detection', annotation: 'Continuous + detections' };

// DETECTION_DEFAULTS are a new stream's detection values (the server's defaults).
export const DETECTION_DEFAULTS = {
  detection_model: '', detection_threshold: 50, detection_interval: 10, motion_sensitivity: 50,
  motion_min_duration: 1, detection_object_filter: 'none', detection_object_filter_list: '',
  record_on_schedule: false, recording_schedule: fullSchedule(),
  detection_record_on_schedule: false, detection_recording_schedule: fullSchedule(),
};

const isURL = v => /^https?:\/\/[^/\s]+/i.test(v || '');

// detectorKind is how the form shows a detection_model: a detector the server
// lists by id, an external detector's own URL, or none.
function detectorKind(model, ids) {
  if (!model) return '';
  if (isURL(model)) return 'url';
  return ids.includes(model.toLowerCase()) ? model.toLowerCase() : model;
}

const inRange = (v, lo, hi) => typeof v === 'number' && v >= lo && v <= hi;

// validateDetection adds the detection fields' errors to e.
export function validateDetection(f, e) {
  if (!inRange(f.detection_threshold, 0, 100)) e.detection_threshold = '0–100 %';
  if (!inRange(f.detection_interval, 0, 86400)) e.detection_interval = '0–86400 seconds';
  if (!inRange(f.motion_sensitivity, 0, 100)) e.motion_sensitivity = '0–100';
  if (!inRange(f.motion_min_duration, 0, 60)) e.motion_min_duration = '0–60 seconds';
  if (f.detection_model && /^[a-z][a-z0-9+.-]*:\/\//i.test(f.detection_model) && !isURL(f.detection_model)) {
    e.detection_model = 'The detector URL must be http:// or https://';
  }
  if (f.detection_object_filter !== 'none' && !f.detection_object_filter_list.trim()) {
    e.detection_object_filter_list = 'List the labels to ' + f.detection_object_filter;
  }
  return e;
}

// useDetectors lists the detectors the server offers (GET /api/detection/models).
function useDetectors() {
  const [models, setModels] = useState([{ id: 'motion', name: 'Motion', supported: true }, { id: 'api', name: 'External detector', supported: true }]);
  useEffect(() => {
    get('/api/detection/models').then(r => { if (r && Array.isArray(r.models)) setModels(r.models); }).catch(() => {});
  }, []);
  return models;
}

// DetectionFields is the form section: mode, buffers, detector and filters.
export function DetectionFields({ f, set, setMany, errors }) {
  const models = useDetectors();
  const ids = models.map(m => String(m.id).toLowerCase());
  const kind = detectorKind(f.detection_model, ids);
  const [url, setURL] = useState(isURL(f.detection_model) ? f.detection_model : '');
  const mode = modeOf(f);
  const detects = mode === 'detection' || mode === 'annotation';
  const options = [['', 'None: only the trigger API and ONVIF events']]
    .concat(models.map(m => [String(m.id).toLowerCase(), (m.name || m.id) + (m.supported === false ? ' (not run by this server)' : '')]))
    .concat([['url', 'External detector at a URL']]);
  if (kind && !options.some(o => o[0] === kind)) options.push([kind, kind + ' (unknown)']);
  const chooseKind = v => set('detection_model')(v === 'url' ? url : v);
  const motion = kind === 'motion';
  const external = kind === 'url' || kind === 'api' || kind === 'api-detection';
  return html`
    <h2>Recording mode and detection</h2>
    <div class="grid-form">
      <${Field} id="stream-mode" label="Recording mode" type="select" value=${mode} options=${MODES}
        onInput=${v => setMany(FLAGS[v])} hint=${detects ? 'Detectors run on this stream' : 'Detectors do not run in this mode'}
        error=${errors.record || errors.detection_based_recording} />
      <${Field} id="stream-pre" label="Pre-event buffer (s)" type="number" min="0" max="60" value=${f.pre_detection_buffer} onInput=${set('pre_detection_buffer')} error=${errors.pre_detection_buffer} hint="Kept before the first detection of a clip" />
      <${Field} id="stream-post" label="Post-event buffer (s)" type="number" min="0" max="300" value=${f.post_detection_buffer} onInput=${set('post_detection_buffer')} error=${errors.post_detection_buffer} hint="Recorded after the last detection" />
    </div>
    ${(mode === 'continuous' || mode === 'annotation') && html`<${ScheduleFields} id="stream-rec-sched" label="Record only in the marked hours"
      on=${f.record_on_schedule} schedule=${f.recording_schedule} setOn=${set('record_on_schedule')} setSchedule=${set('recording_schedule')} />`}
    ${mode === 'detection' && html`<${ScheduleFields} id="stream-det-sched" label="Record clips only in the marked hours"
      on=${f.detection_record_on_schedule} schedule=${f.detection_recording_schedule} setOn=${set('detection_record_on_schedule')} setSchedule=${set('detection_recording_schedule')} />`}
    ${(errors.recording_schedule || errors.detection_recording_schedule) && html`<div class="banner error" role="alert">${errors.recording_schedule || errors.detection_recording_schedule}</div>`}
    <div class="grid-form">
      <${Field} id="stream-detector" label="Detector" type="select" value=${kind} options=${options} onInput=${chooseKind} error=${kind !== 'url' ? errors.detection_model : undefined} />
      ${kind === 'url' && html`<${Field} id="stream-detector-url" label="Detector URL" type="url" value=${url} placeholder="http://127.0.0.1:9001/detect"
        onInput=${v => { setURL(v); set('detection_model')(v); }} error=${errors.detection_model} hint="Gets a JPEG, answers JSON boxes" />`}
      <${Field} id="stream-threshold" label="Confidence threshold (%)" type="number" min="0" max="100" value=${f.detection_threshold} onInput=${set('detection_threshold')} error=${errors.detection_threshold} hint=${external ? 'Detections below it are dropped' : 'For external detectors'} />
      <${Field} id="stream-interval" label="Detection interval (s)" type="number" min="0" max="86400" value=${f.detection_interval} onInput=${set('detection_interval')} error=${errors.detection_interval} hint=${external ? 'How often a frame goes to the detector' : 'For external detectors'} />
      <${Field} id="stream-motion-sens" label="Motion sensitivity (0–100)" type="number" min="0" max="100" value=${f.motion_sensitivity} onInput=${set('motion_sensitivity')} error=${errors.motion_sensitivity} hint=${motion ? 'Higher counts smaller changes as motion' : 'For the motion detector'} />
      <${Field} id="stream-motion-min" label="Minimum motion (s)" type="number" min="0" max="60" value=${f.motion_min_duration} onInput=${set('motion_min_duration')} error=${errors.motion_min_duration} hint=${motion ? 'Shorter motion is ignored' : 'For the motion detector'} />
    </div>
    <div class="grid-form">
      <${Field} id="stream-objfilter" label="Object filter" type="select" value=${f.detection_object_filter} onInput=${set('detection_object_filter')}
        options=${[['none', 'Keep every label'], ['include', 'Keep only these labels'], ['exclude', 'Drop these labels']]} error=${errors.detection_object_filter} />
      <${Field} id="stream-objlist" label="Labels" value=${f.detection_object_filter_list} onInput=${set('detection_object_filter_list')} placeholder="person, car"
        error=${errors.detection_object_filter_list} hint="Comma-separated" disabled=${f.detection_object_filter === 'none'} />
    </div>`;
}
