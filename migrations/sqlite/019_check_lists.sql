-- boxoffice schema, version 19 (PRAGMA user_version = 19): CHECK constraints without lists.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 19. SQLite checks `x IN (a, b, c)`,
-- a list of three or more, by building a temporary b-tree of the list every time a statement
-- writes a row; the CHECK constraints on seats.status, reservations.status, outbox.state and
-- balance_history.kind did that on every write of a purchase (about 7% of its instructions,
-- loadtest/REPORT.md). The same test written as comparisons joined by OR costs nothing more.
--
-- The new constraints accept exactly the values the old ones did, so no row has to change and
-- the tables are not rebuilt: the text of each CREATE TABLE is rewritten in sqlite_schema, as
-- SQLite's documentation describes for changes that leave the stored rows as they are
-- (https://www.sqlite.org/lang_altertable.html#otheralter). migrate.rs then raises the schema
-- version, so that every connection reads the schema again, and checks the file's integrity,
-- CHECK constraints included. A text that is not found (a file whose schema already has the
-- new form) is left as it is. `writable_schema = RESET` turns the pragma off again and makes
-- this connection read the new schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
                     'CHECK (status IN (''available'', ''held'', ''sold''))',
                     'CHECK (status = ''available'' OR status = ''held'' OR status = ''sold'')')
 WHERE type = 'table' AND name = 'seats';
UPDATE sqlite_schema
   SET sql = replace(sql,
                     'CHECK (status IN (''held'', ''confirmed'', ''expired'', ''cancelled''))',
                     'CHECK (status = ''held'' OR status = ''confirmed'' OR status = ''expired''
                                OR status = ''cancelled'')')
 WHERE type = 'table' AND name = 'reservations';
UPDATE sqlite_schema
   SET sql = replace(sql,
                     'CHECK (state IN (''pending'', ''delivered'', ''dead''))',
                     'CHECK (state = ''pending'' OR state = ''delivered'' OR state = ''dead'')')
 WHERE type = 'table' AND name = 'outbox';
UPDATE sqlite_schema
   SET sql = replace(sql,
                     'CHECK (kind IN (''charge'', ''use'', ''refund'', ''adjustment''))',
                     'CHECK (kind = ''charge'' OR kind = ''use'' OR kind = ''refund''
                                OR kind = ''adjustment'')')
 WHERE type = 'table' AND name = 'balance_history';
PRAGMA writable_schema = RESET;
