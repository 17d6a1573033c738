-- The audit log is read by subject and action: the audit page's filters, and a rollout request
-- looking for another one of the same model that the orchestrator has not picked up yet.
CREATE INDEX audit_log_subject_action_at ON registry.audit_log (subject, action, at DESC);
