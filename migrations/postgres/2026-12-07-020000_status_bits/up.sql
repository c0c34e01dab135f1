-- The status-list bits handed out (every certificate issued, those of purged holders
-- included): the status lists in use follow from it, where counting every certificate at
-- each issue walked a million index entries per certificate at national size. A sequence:
-- issuers do not wait for one another, and a bit taken by an issue rolled back still
-- counts, which only opens a list a little early.
CREATE SEQUENCE status_bits_handed_out;
SELECT setval(
    'status_bits_handed_out',
    (SELECT COUNT(*) FROM certificates) + (SELECT COUNT(*) FROM certificate_tombstones) + 1,
    false
);
