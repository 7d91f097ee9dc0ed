-- migrate:up
ALTER TABLE streams ADD COLUMN audio_voice_enhancement INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
