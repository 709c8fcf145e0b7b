-- A product's images, in the owner's order, each with its alt text:
-- [{"url": "/images/a.jpg", "alt": "The tray from above"}, ...].
--
-- image_url keeps its meaning: the main image, which is the list's first.
-- The seed and older writers set image_url alone and leave the list empty;
-- readers take that as a list of that one image, without alt text. Rows are
-- not backfilled, so no product's version or updated_at moves here.
ALTER TABLE products
    ADD COLUMN images jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(images) = 'array' AND jsonb_array_length(images) <= 20),
    ADD CONSTRAINT products_main_image_is_the_first
        CHECK (images = '[]' OR image_url IS NOT DISTINCT FROM images -> 0 ->> 'url');

-- An edit to the list alone (a new order, new alt text) is a real change.
CREATE OR REPLACE FUNCTION products_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.slug, NEW.name, NEW.description, NEW.price, NEW.image_url, NEW.images, NEW.category, NEW.stock_quantity)
       IS NOT DISTINCT FROM
       (OLD.slug, OLD.name, OLD.description, OLD.price, OLD.image_url, OLD.images, OLD.category, OLD.stock_quantity)
    THEN
        RETURN NULL; -- skip the no-op update
    END IF;
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;
