-- migrate:up
-- Rows were once written with disk_pressure_eligible = 0 throughout, which
-- left emergency eviction nothing to delete. Only protected recordings are
-- exempt.
UPDATE recordings SET disk_pressure_eligible = 1 WHERE coalesce(protected, 0) = 0;
UPDATE recordings SET disk_pressure_eligible = 0 WHERE protected = 1;

-- migrate:down
SELECT 1;
