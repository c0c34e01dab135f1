-- PostgreSQL's sequence of status-list bits handed out has no SQLite counterpart: one
-- school's SQLite database counts its certificates (`certificates::store::lists_in_use`).
SELECT 1;
