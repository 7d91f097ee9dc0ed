-- migrate:up
-- Replaced by tags in 0028, which folds it in and drops it.
ALTER TABLE streams ADD COLUMN group_name TEXT DEFAULT '';

-- migrate:down
SELECT 1;
