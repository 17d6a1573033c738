-- The data-plane services remember an unknown key for a few seconds, so a caller repeating a
-- wrong key costs no lookup per request. A key created meanwhile must work at once: creation
-- notifies on the same channel as a change, and the services forget the key as unknown.
CREATE TRIGGER api_keys_notify_created
    AFTER INSERT ON registry.api_keys
    FOR EACH ROW EXECUTE FUNCTION registry.notify_api_key();
