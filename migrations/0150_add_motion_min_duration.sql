-- migrate:up
-- Motion detection: how many seconds motion must last before it counts as
-- an event, so that a flicker (a leaf, passing headlights) starts nothing.
ALTER TABLE streams ADD COLUMN motion_min_duration INTEGER DEFAULT 1;

-- migrate:down
ALTER TABLE streams DROP COLUMN motion_min_duration;
