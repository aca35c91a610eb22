-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "refresh_token_rotation" BOOLEAN;
