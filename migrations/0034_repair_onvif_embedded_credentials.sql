-- migrate:up
-- ONVIF streams keep their credentials in onvif_username/onvif_password, not
-- in the URL (where they leak into logs and API replies). Move any
-- "user:pass@" found in the URL of an ONVIF stream into those columns, keeping
-- credentials already stored there, and strip it from the URL.
UPDATE streams
   SET onvif_username = CASE WHEN coalesce(onvif_username, '') = '' THEN c.cred_user ELSE onvif_username END,
       onvif_password = CASE WHEN coalesce(onvif_password, '') = '' THEN c.cred_pass ELSE onvif_password END,
       url = c.clean_url
  FROM (
        SELECT s.id AS sid,
               CASE WHEN instr(s.userinfo, ':') = 0 THEN s.userinfo
                    ELSE substr(s.userinfo, 1, instr(s.userinfo, ':') - 1) END AS cred_user,
               CASE WHEN instr(s.userinfo, ':') = 0 THEN ''
                    ELSE substr(s.userinfo, instr(s.userinfo, ':') + 1) END AS cred_pass,
               s.scheme || substr(s.rest, s.at + 1) AS clean_url
          FROM (
                SELECT p.id, p.scheme, p.rest, p.at,
                       substr(p.rest, 1, p.at - 1) AS userinfo
                  FROM (
                        SELECT id,
                               substr(url, 1, instr(url, '://') + 2) AS scheme,
                               substr(url, instr(url, '://') + 3) AS rest,
                               instr(substr(url, instr(url, '://') + 3), '@') AS at,
                               instr(substr(url, instr(url, '://') + 3), '/') AS slash
                          FROM streams
                         WHERE is_onvif = 1
                           AND instr(url, '://') > 0
                       ) AS p
                 WHERE p.at > 1
                   AND (p.slash = 0 OR p.at < p.slash)
               ) AS s
       ) AS c
 WHERE streams.id = c.sid;

-- migrate:down
SELECT 1;
