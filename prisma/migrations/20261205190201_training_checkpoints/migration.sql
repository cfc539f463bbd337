-- Training checkpoints (issue 20): a running job's latest checkpoint (the training library's state after
-- an epoch: weights, optimiser moments, random streams), written by the training thread at most every
-- few seconds. A worker that takes over a job after its previous worker died resumes from it (the
-- result is the same as an uninterrupted run's); cleared when the job ends.
ALTER TABLE "training_jobs" ADD COLUMN "checkpoint" BYTEA;
ALTER TABLE "training_jobs" ADD COLUMN "checkpoint_epoch" INTEGER;
