-- migrate:up
-- source is empty for built-in detections and names the origin of external
-- (API, ONVIF) events. event_end_time is NULL while an event is open.
ALTER TABLE detections ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE detections ADD COLUMN event_end_time INTEGER;

-- Existing detections are points in time.
UPDATE detections SET event_end_time = timestamp WHERE event_end_time IS NULL;

CREATE INDEX IF NOT EXISTS idx_detections_stream_source_time
    ON detections (stream_name, source, timestamp, event_end_time);

-- migrate:down
DROP INDEX IF EXISTS idx_detections_stream_source_time;
