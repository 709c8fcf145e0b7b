-- Uploaded product images, content-addressed, and the audit log of every
-- change to a product.

-- An image is stored once under the SHA-256 of its bytes; the build publishes
-- every one as images/<sha256>.<extension>.
CREATE TABLE product_images (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    extension    text NOT NULL CHECK (extension IN ('jpg', 'png', 'webp', 'avif')),
    bytes        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Who changed what, field by field: {"price": {"before": 10.00, "after": 12.50}}.
CREATE TABLE audit_log (
    audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    product_id bigint NOT NULL,
    action     text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    changes    jsonb NOT NULL
);
CREATE INDEX audit_log_product ON audit_log (product_id, audit_id DESC);

-- Every real change is recorded by the database itself, so writes from the
-- api, imports and hand-run SQL all land here. The api names the actor with
-- set_config('shopfront.actor', <e-mail>, true) in the writing statement;
-- anything else is recorded as the database user.
CREATE FUNCTION products_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before  jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'version' - 'updated_at' - 'created_at' END;
    after   jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'version' - 'updated_at' - 'created_at' END;
    changes jsonb;
BEGIN
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('before', before -> k, 'after', after -> k)), '{}')
      INTO changes
      FROM jsonb_object_keys(coalesce(before, '{}') || coalesce(after, '{}')) AS k
     WHERE k <> 'product_id' AND (before -> k) IS DISTINCT FROM (after -> k);
    IF changes = '{}' AND TG_OP = 'UPDATE' THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor, product_id, action, changes)
    VALUES (coalesce(nullif(current_setting('shopfront.actor', true), ''), current_user),
            CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END,
            lower(TG_OP), changes);
    RETURN NULL;
END $$;

CREATE TRIGGER products_audit AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION products_audit();
