-- A failed request may carry many rows; the canary's error rate is failed rows over all rows,
-- in the same unit as the prediction log (one row per answered instance).
ALTER TABLE inference.prediction_errors ADD COLUMN rows integer NOT NULL DEFAULT 1 CHECK (rows > 0);
