package auth

import (
	"fmt"
	"sync"
	"time"
)

// RateLimitedError says a login was refused before checking the password
// because too many recent attempts failed.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed login attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// maxLimiterEntries bounds the per-address failure table (the per-user counts
// are in the database).
const maxLimiterEntries = 4096

// limiter counts failures per key in a fixed window that opens at the first
// failure. Memory is bounded: expired entries are dropped, and when the table
// is full the entry closest to expiry goes.
type limiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	entries map[string]*limitEntry
}

type limitEntry struct {
	first time.Time
	count int
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, entries: map[string]*limitEntry{}}
}

// blockedFor returns how long key must wait, 0 if it may try now.
func (l *limiter) blockedFor(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return 0
	}
	end := e.first.Add(l.window)
	if !now.Before(end) {
		delete(l.entries, key)
		return 0
	}
	if e.count < l.max {
		return 0
	}
	return end.Sub(now)
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok && now.Before(e.first.Add(l.window)) {
		e.count++
		return
	}
	if len(l.entries) >= maxLimiterEntries {
		l.evictLocked(now)
	}
	l.entries[key] = &limitEntry{first: now, count: 1}
}

func (l *limiter) evictLocked(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range l.entries {
		if !now.Before(e.first.Add(l.window)) {
			delete(l.entries, k)
			continue
		}
		if oldestKey == "" || e.first.Before(oldest) {
			oldestKey, oldest = k, e.first
		}
	}
	if len(l.entries) >= maxLimiterEntries && oldestKey != "" {
		delete(l.entries, oldestKey)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
