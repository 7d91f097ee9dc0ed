// Package lifecycle runs the process's life around the real work: the PID
// file, daemon mode, signal handling and the ordered shutdown of components.
//
// Shutdown order follows data flow: first the producers of new work stop
// (detection), then whatever writes to disk finishes its files (recorders),
// then viewers (live), then the API, and go2rtc, the source of everything,
// last. Each component gets its own deadline; one that does not return in
// time is abandoned and reported as hung so the process can still exit.
package lifecycle
