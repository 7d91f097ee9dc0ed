-- migrate:up
-- Name of another stream whose motion triggers this one (dual-lens cameras).
ALTER TABLE streams ADD COLUMN motion_trigger_source TEXT DEFAULT '';

-- migrate:down
SELECT 1;
