// The first schema: plugins, generators, controls, prompts with progress history, sample sets with images, checkpoints.
import { type MigrationInterface, type QueryRunner } from 'typeorm';

export class Initial1795793609080 implements MigrationInterface {
  name = 'Initial1795793609080';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TYPE "public"."plugin_source" AS ENUM('BUILTIN', 'INSTALLED')`);
    await queryRunner.query(`CREATE TYPE "public"."plugin_status" AS ENUM('LOADED', 'FAILED')`);
    await queryRunner.query(
      `CREATE TABLE "plugins" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "version" text NOT NULL, "source" "public"."plugin_source" NOT NULL, "status" "public"."plugin_status" NOT NULL, "error" text, "spec" text, "integrity" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_0479844f05c1132f8929cab1c8a" UNIQUE ("name"), CONSTRAINT "PK_bb3d17826b76295957a253ba73e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "generators" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "title" text NOT NULL, "description" text, "latent_dim" integer NOT NULL, "width" integer NOT NULL, "height" integer NOT NULL, "channels" integer NOT NULL, "plugin_id" uuid, "base_prompt_id" uuid, "available" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3cef07aafaf99d74a49f866341c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_19bc1a8dc696cdfdbb911c87da" ON "generators" ("name") `);
    await queryRunner.query(
      `CREATE TABLE "controls" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "title" text NOT NULL, "description" text, "params_schema" jsonb NOT NULL, "condition_dim" integer, "paired" boolean NOT NULL DEFAULT false, "plugin_id" uuid, "available" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_caab9cdc105919cae31de77f61e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_8ed7d5289af3502621c63a3c04" ON "controls" ("name") `);
    await queryRunner.query(
      `CREATE TYPE "public"."prompt_status" AS ENUM('QUEUED', 'TRAINING', 'SUCCEEDED', 'FAILED', 'CANCELLED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "prompts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text, "status" "public"."prompt_status" NOT NULL DEFAULT 'QUEUED', "generator_id" uuid NOT NULL, "controls" jsonb NOT NULL, "training" jsonb NOT NULL, "plugin_versions" jsonb NOT NULL DEFAULT '{}', "progress" jsonb, "metrics" jsonb, "calibration" jsonb, "error" text, "job_id" text, "attempts" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_21f33798862975179e40b216a1d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "prompts_created_idx" ON "prompts" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "progress_points" ("id" BIGSERIAL NOT NULL, "prompt_id" uuid NOT NULL, "step" integer NOT NULL, "data" jsonb NOT NULL, CONSTRAINT "PK_990b41115cd92f1b09cd7c6e471" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "progress_points_prompt_step_idx" ON "progress_points" ("prompt_id", "step") `,
    );
    await queryRunner.query(
      `CREATE TABLE "images" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "sample_set_id" uuid NOT NULL, "index" integer NOT NULL, "width" integer NOT NULL, "height" integer NOT NULL, "png" bytea NOT NULL, CONSTRAINT "PK_1fe148074c6a1a91b63cb9ee3c9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "images_set_index_idx" ON "images" ("sample_set_id", "index") `,
    );
    await queryRunner.query(`CREATE TYPE "public"."sample_set_kind" AS ENUM('PREVIEW', 'SAMPLE')`);
    await queryRunner.query(
      `CREATE TABLE "sample_sets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "prompt_id" uuid, "generator_id" uuid NOT NULL, "kind" "public"."sample_set_kind" NOT NULL, "step" integer, "seed" integer, "truncation" double precision NOT NULL DEFAULT '1', "condition" jsonb, "count" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_dffd54cdc04721d3600e68d4ca8" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "sample_sets_prompt_idx" ON "sample_sets" ("prompt_id", "created_at") `,
    );
    await queryRunner.query(`CREATE TYPE "public"."checkpoint_kind" AS ENUM('PROGRESS', 'FINAL')`);
    await queryRunner.query(
      `CREATE TABLE "checkpoints" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "prompt_id" uuid NOT NULL, "kind" "public"."checkpoint_kind" NOT NULL, "step" integer NOT NULL, "data" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_dfcc46a91d96ecba8a8dcd8b11c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "checkpoints_prompt_kind_idx" ON "checkpoints" ("prompt_id", "kind") `,
    );
    await queryRunner.query(
      `ALTER TABLE "generators" ADD CONSTRAINT "FK_28e6062485e74e7d9f897b56865" FOREIGN KEY ("plugin_id") REFERENCES "plugins"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "controls" ADD CONSTRAINT "FK_85a2fbc7a56a5a08e256a132b7a" FOREIGN KEY ("plugin_id") REFERENCES "plugins"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "prompts" ADD CONSTRAINT "FK_b73e1c1671c55e1c835b70b8755" FOREIGN KEY ("generator_id") REFERENCES "generators"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "images" ADD CONSTRAINT "FK_1856f4dd405b2d67e623155bd0f" FOREIGN KEY ("sample_set_id") REFERENCES "sample_sets"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" DROP CONSTRAINT "FK_1856f4dd405b2d67e623155bd0f"`);
    await queryRunner.query(`ALTER TABLE "prompts" DROP CONSTRAINT "FK_b73e1c1671c55e1c835b70b8755"`);
    await queryRunner.query(`ALTER TABLE "controls" DROP CONSTRAINT "FK_85a2fbc7a56a5a08e256a132b7a"`);
    await queryRunner.query(`ALTER TABLE "generators" DROP CONSTRAINT "FK_28e6062485e74e7d9f897b56865"`);
    await queryRunner.query(`DROP INDEX "public"."checkpoints_prompt_kind_idx"`);
    await queryRunner.query(`DROP TABLE "checkpoints"`);
    await queryRunner.query(`DROP TYPE "public"."checkpoint_kind"`);
    await queryRunner.query(`DROP INDEX "public"."sample_sets_prompt_idx"`);
    await queryRunner.query(`DROP TABLE "sample_sets"`);
    await queryRunner.query(`DROP TYPE "public"."sample_set_kind"`);
    await queryRunner.query(`DROP INDEX "public"."images_set_index_idx"`);
    await queryRunner.query(`DROP TABLE "images"`);
    await queryRunner.query(`DROP INDEX "public"."progress_points_prompt_step_idx"`);
    await queryRunner.query(`DROP TABLE "progress_points"`);
    await queryRunner.query(`DROP INDEX "public"."prompts_created_idx"`);
    await queryRunner.query(`DROP TABLE "prompts"`);
    await queryRunner.query(`DROP TYPE "public"."prompt_status"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_8ed7d5289af3502621c63a3c04"`);
    await queryRunner.query(`DROP TABLE "controls"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_19bc1a8dc696cdfdbb911c87da"`);
    await queryRunner.query(`DROP TABLE "generators"`);
    await queryRunner.query(`DROP TABLE "plugins"`);
    await queryRunner.query(`DROP TYPE "public"."plugin_status"`);
    await queryRunner.query(`DROP TYPE "public"."plugin_source"`);
  }
}
