/** Sample sets (previews and samples drawn later) and their PNG images. */
import { ImageRow, SampleSetRow } from './entities';
import { keysetPage, type Page } from './pagination';
import { Queries } from './queries';

export class SampleQueries extends Queries {
  /** The prompt's newest preview batch (samples drawn after training do not count). */
  latestPreview(promptId: string): Promise<SampleSetRow | null> {
    return this.m.findOne(SampleSetRow, {
      where: { promptId, kind: 'PREVIEW' },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
  }

  async listSampleSets(promptId: string, first: number, after: string | null): Promise<Page<SampleSetRow>> {
    const base = this.m.createQueryBuilder(SampleSetRow, 's').where('s.prompt_id = :promptId', { promptId });
    const totalCount = await base.clone().getCount();
    return keysetPage(base, 's', first, after, totalCount);
  }

  sampleSetById(id: string): Promise<SampleSetRow | null> {
    return this.m.findOneBy(SampleSetRow, { id });
  }
  imagesOfSet(sampleSetId: string): Promise<ImageRow[]> {
    return this.m.find(ImageRow, { where: { sampleSetId }, order: { index: 'ASC' } });
  }
  async imagePng(imageId: string): Promise<Buffer | null> {
    const row = await this.m
      .createQueryBuilder(ImageRow, 'i')
      .addSelect('i.png')
      .where('i.id = :imageId', { imageId })
      .getOne();
    return row?.png ?? null;
  }

  async imagePngsOfSet(sampleSetId: string): Promise<Buffer[]> {
    const rows = await this.m
      .createQueryBuilder(ImageRow, 'i')
      .addSelect('i.png')
      .where('i.sample_set_id = :sampleSetId', { sampleSetId })
      .orderBy('i.index', 'ASC')
      .getMany();
    return rows.map((r) => r.png);
  }

  /** Stores a sample set and its PNGs in one transaction. */
  async saveSampleSet(
    set: Omit<SampleSetRow, 'id' | 'createdAt' | 'images'>,
    pngs: Array<{ png: Buffer; width: number; height: number }>,
  ): Promise<SampleSetRow> {
    return this.m.transaction(async (tx) => {
      const saved = await tx.save(SampleSetRow, tx.create(SampleSetRow, set));
      if (pngs.length) {
        await tx.insert(
          ImageRow,
          pngs.map((p, index) => ({
            sampleSetId: saved.id,
            index,
            width: p.width,
            height: p.height,
            png: p.png,
          })),
        );
      }
      return saved;
    });
  }
}
