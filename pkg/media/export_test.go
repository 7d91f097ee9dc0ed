package media

// DialBuffered lets the external tests reach the RTSP dialer.
var DialBuffered = dialBuffered
