-- migrate:up
-- 'scheduled' covers continuous recording; also 'detection', 'motion', 'manual'.
ALTER TABLE recordings ADD COLUMN trigger_type TEXT DEFAULT 'scheduled';

-- migrate:down
SELECT 1;
