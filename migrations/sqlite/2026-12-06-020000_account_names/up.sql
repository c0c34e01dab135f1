-- First name and last name apart, as certificates and DPC declarations need them; the
-- display name (full_name) stays. Empty for accounts created before.
ALTER TABLE accounts ADD COLUMN first_name TEXT;
ALTER TABLE accounts ADD COLUMN last_name TEXT;
