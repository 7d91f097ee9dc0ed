-- migrate:up
-- go2rtc_source_override: a raw go2rtc source, one URL or a YAML list.
-- sub_stream_url is registered in go2rtc as "<name>_sub".
ALTER TABLE streams ADD COLUMN go2rtc_source_override TEXT DEFAULT '';
ALTER TABLE streams ADD COLUMN sub_stream_url TEXT DEFAULT '';

-- migrate:down
SELECT 1;
