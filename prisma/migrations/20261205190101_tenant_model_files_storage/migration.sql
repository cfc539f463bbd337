-- Tenant model files are stored uncompressed out of line (STORAGE EXTERNAL): workers read a large
-- file in slices (substring), which Postgres then fetches without decompressing the whole value;
-- model weights rarely compress anyway. Applies to rows written from now on.
ALTER TABLE "tenant_model_files" ALTER COLUMN "data" SET STORAGE EXTERNAL;
