-- An anonymous id is suppressed because of the lead it was linked to when that lead was
-- erased. Keeping the lead's hash beside it lets an admin lift a mistaken erasure's
-- suppression as a whole (`tandem suppressions lift`, `liftSuppression`); rows recorded
-- before this column existed have none and are lifted one id at a time.
ALTER TABLE erased_subjects ADD COLUMN lead_hash bytea CHECK (length(lead_hash) = 32);
