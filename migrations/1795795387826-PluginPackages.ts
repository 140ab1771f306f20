// Plugin tarballs in PostgreSQL, so workers on other machines can install what an admin installed from a local path.
import { type MigrationInterface, type QueryRunner } from 'typeorm';

export class PluginPackages1795795387826 implements MigrationInterface {
  name = 'PluginPackages1795795387826';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "plugin_packages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "version" text NOT NULL, "integrity" text NOT NULL, "tarball" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_904c27d261e8213308261fd8aac" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "plugin_packages_name_version_idx" ON "plugin_packages" ("name", "version") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."plugin_packages_name_version_idx"`);
    await queryRunner.query(`DROP TABLE "plugin_packages"`);
  }
}
