-- migrate:up
-- Motion detection: how small a change of the picture counts as motion,
-- 0 (only large changes) to 100 (the smallest change above the picture's
-- own noise).
ALTER TABLE streams ADD COLUMN motion_sensitivity INTEGER DEFAULT 50;

-- migrate:down
ALTER TABLE streams DROP COLUMN motion_sensitivity;
