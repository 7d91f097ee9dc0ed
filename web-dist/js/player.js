// Live player for one camera: WebRTC through the /go2rtc proxy first (lowest
// latency), go2rtc's MSE-over-WebSocket protocol when WebRTC cannot connect,
// and lightnvr's live HLS (/hls/<stream>/index.m3u8) when neither plays: its
// fMP4 segments fed to a MediaSource, or natively where there is none (iOS).
//
// MSE protocol (go2rtc): the client sends {"type":"mse","value":"<codecs it can
// play>"}, go2rtc answers {"type":"mse","value":"<mime type>"} and then sends the
// fMP4 init segment and fragments as binary messages.

const MSE_CODECS = ['avc1.640029', 'avc1.64002A', 'avc1.640033', 'hvc1.1.6.L153.B0', 'mp4a.40.2', 'mp4a.40.5', 'flac', 'opus'];
const KEEP_SECONDS = 8;

function wsURL(path) {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
}

export class LivePlayer {
  // onState(state, detail): state is connecting | playing | error | stopped.
  constructor(video, src, { mode = 'auto', webrtcTimeoutMs = 8000, onState = () => {} } = {}) {
    this.video = video;
    this.src = src;
    this.mode = mode;
    this.webrtcTimeoutMs = webrtcTimeoutMs;
    this.onState = onState;
    this.pc = null;
    this.ws = null;
    this.ms = null;
    this.stopped = false;
    this.transport = null;
  }

  async start() {
    this.onState('connecting');
    if (this.mode !== 'mse' && this.mode !== 'hls' && 'RTCPeerConnection' in window) {
      try {
        await this.startWebRTC();
        return;
      } catch (e) {
        this.closeWebRTC();
        if (this.stopped) return;
        if (this.mode === 'webrtc') { this.onState('error', 'WebRTC: ' + e.message); return; }
      }
    }
    if (this.stopped) return;
    if (this.mode === 'hls' || !('MediaSource' in window)) { this.startHLS(); return; }
    this.startMSE();
  }

  // fallBack leaves a transport that never played for live HLS.
  fallBack(why) {
    if (this.stopped) return;
    if (this.transport || this.mode !== 'auto') { this.onState('error', why); return; }
    this.closeMSE();
    this.startHLS();
  }

  startHLS() {
    const url = '/hls/' + encodeURIComponent(this.src) + '/index.m3u8';
    const onPlaying = () => { this.transport = 'hls'; this.onState('playing', 'HLS'); };
    this.video.addEventListener('playing', onPlaying, { once: true });
    // MediaSource first: Chromium claims native HLS but cannot parse fMP4 segments.
    if ('MediaSource' in window) {
      this.hlsOverMSE(url).catch(e => { if (!this.stopped) this.onState('error', 'HLS: ' + e.message); });
      return;
    }
    if (!this.video.canPlayType('application/vnd.apple.mpegurl')) { this.onState('error', 'This browser cannot play live video (no WebRTC, MSE or HLS)'); return; }
    this.video.src = url;
    this.play();
  }

  // hlsOverMSE plays the playlist's complete segments from the newest on,
  // waiting for each next one with a blocking reload (_HLS_msn).
  async hlsOverMSE(url) {
    const base = url.slice(0, url.lastIndexOf('/') + 1);
    const ms = new MediaSource();
    this.ms = ms;
    this.video.src = URL.createObjectURL(ms);
    await new Promise(resolve => ms.addEventListener('sourceopen', resolve, { once: true }));
    this.play();
    let sb = null, map = null, next = -1;
    const get = async u => {
      const r = await fetch(base + u, { credentials: 'same-origin' });
      if (r.status === 401) location.assign('/login.html?auth_required=true&reason=session_expired');
      if (!r.ok) throw new Error(u + ': ' + r.status);
      return r;
    };
    const append = buf => new Promise((resolve, reject) => {
      sb.addEventListener('updateend', resolve, { once: true });
      sb.addEventListener('error', () => reject(new Error('append failed')), { once: true });
      sb.appendBuffer(buf);
    });
    while (!this.stopped && this.ms === ms) {
      const text = await (await get('index.m3u8' + (next >= 0 ? '?_HLS_msn=' + next : ''))).text();
      const segs = hlsSegments(text);
      for (const s of next < 0 ? segs.slice(-1) : segs.filter(s => s.msn >= next)) {
        if (this.stopped || this.ms !== ms) return;
        if (s.map !== map) {
          const r = await get(s.map);
          const type = r.headers.get('Content-Type');
          if (!sb) sb = ms.addSourceBuffer(type); else sb.changeType(type);
          await append(await r.arrayBuffer());
          map = s.map;
        }
        await append(await (await get(s.uri)).arrayBuffer());
        if (this.stopped || this.ms !== ms) return;
        keepLive(this.video, sb);
        next = s.msn + 1;
      }
    }
  }

  async startWebRTC() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: await iceServers() });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = ev => { stream.addTrack(ev.track); };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitIce(pc, 2000);
    const resp = await fetch('/go2rtc/api/webrtc?src=' + encodeURIComponent(this.src), {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/sdp', 'X-Requested-With': 'XMLHttpRequest' }, body: pc.localDescription.sdp,
    });
    if (resp.status === 401) { location.assign('/login.html?auth_required=true&reason=session_expired'); throw new Error('session ended'); }
    if (!resp.ok) throw new Error('offer refused: ' + resp.status);
    const answer = await resp.text();
    if (this.stopped) throw new Error('stopped');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.video.srcObject = stream;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no video within ' + this.webrtcTimeoutMs + ' ms')), this.webrtcTimeoutMs);
      const ok = () => { clearTimeout(timer); this.video.removeEventListener('playing', ok); resolve(); };
      this.video.addEventListener('playing', ok);
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'failed') { clearTimeout(timer); reject(new Error('connection failed')); }
      };
      this.play();
    });
    this.transport = 'webrtc';
    this.onState('playing', 'WebRTC');
    pc.onconnectionstatechange = () => {
      if (!this.stopped && (pc.connectionState === 'failed' || pc.connectionState === 'disconnected')) this.onState('error', 'WebRTC connection lost');
    };
  }

  closeWebRTC() {
    if (this.pc) { this.pc.ontrack = null; this.pc.onconnectionstatechange = null; this.pc.close(); this.pc = null; }
    if (this.video.srcObject) { this.video.srcObject = null; }
  }

  startMSE() {
    const ms = new MediaSource();
    this.ms = ms;
    let sb = null;
    const queue = [];
    const pump = () => {
      if (!sb || sb.updating || !queue.length || ms.readyState !== 'open') return;
      try { sb.appendBuffer(queue.shift()); } catch (e) { this.onState('error', 'MSE append: ' + e.message); }
    };
    // A closed player's buffer may still report a last updateend after
    // the MediaSource was detached; its buffered ranges are gone by then.
    const trim = () => { if (sb && this.ms === ms && ms.readyState === 'open') keepLive(this.video, sb); };
    ms.addEventListener('sourceopen', () => {
      const ws = new WebSocket(wsURL('/go2rtc/api/ws?src=' + encodeURIComponent(this.src)));
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        const codecs = MSE_CODECS.filter(c => MediaSource.isTypeSupported(`video/mp4; codecs="${c}"`)).join();
        ws.send(JSON.stringify({ type: 'mse', value: codecs }));
      };
      ws.onmessage = ev => {
        if (typeof ev.data === 'string') {
          let msg;
          try { msg = JSON.parse(ev.data); } catch { return; }
          if (msg.type === 'mse' && !sb) {
            try {
              sb = ms.addSourceBuffer(msg.value);
            } catch (e) { this.onState('error', 'unsupported codec ' + msg.value); return; }
            sb.mode = 'segments';
            sb.addEventListener('updateend', () => { pump(); trim(); });
          } else if (msg.type === 'error') {
            this.onState('error', msg.value);
          }
          return;
        }
        queue.push(ev.data);
        if (queue.length > 60) queue.splice(0, queue.length - 60);
        pump();
      };
      ws.onclose = () => this.fallBack('live stream closed');
    }, { once: true });
    this.video.src = URL.createObjectURL(ms);
    const onPlaying = () => { this.transport = 'mse'; this.onState('playing', 'MSE'); };
    this.video.addEventListener('playing', onPlaying, { once: true });
    this.play();
  }

  play() {
    this.video.muted = true;
    const p = this.video.play();
    if (p && p.catch) p.catch(() => { /* autoplay waits for data; 'playing' reports success */ });
  }

  closeMSE() {
    if (this.ws) { this.ws.onclose = null; this.ws.onmessage = null; this.ws.close(); this.ws = null; }
    if (this.ms) {
      const url = this.video.src;
      this.video.removeAttribute('src');
      this.video.load();
      if (url && url.startsWith('blob:')) URL.revokeObjectURL(url);
      this.ms = null;
    }
  }

  stop() {
    this.stopped = true;
    this.closeWebRTC();
    this.closeMSE();
    if (this.video.getAttribute('src')) { this.video.removeAttribute('src'); this.video.load(); }
    this.onState('stopped');
  }
}

// keepLive stays near the live edge of sb and drops what is far behind, so
// memory stays flat.
function keepLive(video, sb) {
  if (sb.updating || !sb.buffered.length) return;
  const end = sb.buffered.end(sb.buffered.length - 1);
  const start = sb.buffered.start(0);
  if (video.currentTime < end - 3 || video.currentTime < start) video.currentTime = Math.max(start, end - 0.5);
  if (end - start > KEEP_SECONDS * 2) { try { sb.remove(start, end - KEEP_SECONDS); } catch { /* retried on the next update */ } }
}

// hlsSegments lists the complete segments of a media playlist with their
// media sequence number and init segment.
function hlsSegments(text) {
  const out = [];
  let msn = 0, map = null;
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = parseInt(l.slice(22), 10);
    else if (l.startsWith('#EXT-X-MAP:')) map = (l.match(/URI="([^"]+)"/) || [])[1];
    else if (l && !l.startsWith('#')) out.push({ msn: msn++, uri: l, map });
  }
  return out;
}

// The ICE servers go2rtc uses (GET /api/ice-servers), so both ends gather
// candidates alike; none when they cannot be read.
async function iceServers() {
  try {
    const r = await fetch('/api/ice-servers', { credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest' } });
    if (r.ok) return (await r.json()).ice_servers || [];
  } catch (e) { /* no list: host candidates only */ }
  return [];
}

function waitIce(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(resolve => {
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}
