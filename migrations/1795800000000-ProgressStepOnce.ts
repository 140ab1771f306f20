// One history row per (prompt, step): a job resumed from a checkpoint repeats the steps after it,
// and their points replace the first run's instead of being recorded twice.
import { type MigrationInterface, type QueryRunner } from 'typeorm';

export class ProgressStepOnce1795800000000 implements MigrationInterface {
  name = 'ProgressStepOnce1795800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Keep the latest point of each repeated step (what the resumed run computed).
    await queryRunner.query(
      `DELETE FROM "progress_points" a USING "progress_points" b WHERE a."prompt_id" = b."prompt_id" AND a."step" = b."step" AND a."id" < b."id"`,
    );
    await queryRunner.query(`DROP INDEX "public"."progress_points_prompt_step_idx"`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "progress_points_prompt_step_idx" ON "progress_points" ("prompt_id", "step") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."progress_points_prompt_step_idx"`);
    await queryRunner.query(
      `CREATE INDEX "progress_points_prompt_step_idx" ON "progress_points" ("prompt_id", "step") `,
    );
  }
}
