-- What a shop owner sets beyond what a product is: its status (only
-- 'active' products reach the storefront), a sale's compare-at price, the
-- search-result title and description, trade identifiers, and a payment
-- link. The seed's columns keep their meaning, and every existing product
-- is active. The catalog's rules (catalog::draft) are the full check; these
-- constraints are the database's backstop.
ALTER TABLE products
    ADD COLUMN status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('draft', 'active', 'archived')),
    ADD COLUMN compare_at_price numeric(10,2)
        CHECK (compare_at_price > price),
    ADD COLUMN seo_title varchar(70),
    ADD COLUMN seo_description varchar(160),
    ADD COLUMN gtin varchar(14) CHECK (gtin ~ '^([0-9]{8}|[0-9]{12,14})$'),
    ADD COLUMN mpn varchar(70),
    ADD COLUMN buy_url varchar(2048) CHECK (buy_url LIKE 'https://%');

CREATE INDEX products_status ON products (status);

-- A change to any column but the version and the times is a real change
-- (as before, a change of times alone is not), so every column added from
-- here on counts without this being edited again.
CREATE OR REPLACE FUNCTION products_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'version' - 'updated_at' - 'created_at')
       IS NOT DISTINCT FROM
       (to_jsonb(OLD) - 'version' - 'updated_at' - 'created_at')
    THEN
        RETURN NULL; -- skip the no-op update
    END IF;
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;
