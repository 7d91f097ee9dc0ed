-- migrate:up
-- filter mode: none, include or exclude; the list is comma-separated classes.
ALTER TABLE streams ADD COLUMN detection_object_filter TEXT DEFAULT 'none';
ALTER TABLE streams ADD COLUMN detection_object_filter_list TEXT DEFAULT '';

-- migrate:down
SELECT 1;
