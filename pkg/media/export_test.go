package media

// FramesMade is the number of frame buffers allocated so far, for tests
// that check the pool serves them again.
func FramesMade() uint64 { return framesMade.Load() }
