-- migrate:up
ALTER TABLE streams ADD COLUMN tags TEXT NOT NULL DEFAULT '';

UPDATE streams
   SET tags = trim(group_name)
 WHERE tags = ''
   AND group_name IS NOT NULL
   AND trim(group_name) <> '';

ALTER TABLE streams DROP COLUMN group_name;

-- migrate:down
SELECT 1;
