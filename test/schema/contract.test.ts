/**
 * The public contract: every name in ../shared/docs/API.md exists in our
 * schema with the same type, and the committed schema.graphql matches the code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildASTSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  parse,
  type GraphQLNamedType,
} from 'graphql';
import { createSchema, schemaSdl } from '../../src/schema/build-schema';
import { requireShared } from '../helpers/shared';

const repo = path.resolve(__dirname, '../..');

describe('GraphQL schema', () => {
  it('matches the committed schema.graphql (run `npm run schema:print` after changing the schema)', async () => {
    const committed = fs.readFileSync(path.join(repo, 'schema.graphql'), 'utf8');
    expect(await schemaSdl()).toBe(committed);
  });

  const apiDoc = requireShared('docs/API.md');
  (apiDoc ? it : it.skip)('keeps every type, field, argument and enum value of API.md', async () => {
    const text = fs.readFileSync(apiDoc!, 'utf8');
    const block = /```graphql\n([\s\S]*?)```/.exec(text)![1]!;
    // API.md names some types (connections, TrainingOptions) without spelling them out:
    // declare those empty so the rest can be compared; their presence is still checked.
    const ast = parse(block);
    const defined = new Set(ast.definitions.map((d) => ('name' in d && d.name ? d.name.value : '')));
    const builtins = new Set(['String', 'Int', 'Float', 'Boolean', 'ID']);
    const referenced = new Set([...block.matchAll(/:\s*\[?([A-Z]\w*)/g)].map((m) => m[1]!));
    const undeclared = [...referenced].filter((t) => !defined.has(t) && !builtins.has(t));
    const contract = buildASTSchema(parse(block + undeclared.map((t) => `\ntype ${t}`).join('')), {
      assumeValid: true,
    });
    const ours = await createSchema();
    const missing: string[] = [];
    for (const [name, want] of Object.entries(contract.getTypeMap())) {
      if (name.startsWith('__')) continue;
      const have: GraphQLNamedType | undefined = ours.getType(name) ?? undefined;
      if (!have) {
        missing.push(`type ${name}`);
        continue;
      }
      if (have.constructor !== want.constructor)
        missing.push(`${name} is a ${have.constructor.name}, contract says ${want.constructor.name}`);
      if (isScalarType(want)) continue;
      if (isEnumType(want) && isEnumType(have)) {
        for (const v of want.getValues()) if (!have.getValue(v.name)) missing.push(`${name}.${v.name}`);
      }
      if ((isObjectType(want) || isInterfaceType(want)) && (isObjectType(have) || isInterfaceType(have))) {
        const haveFields = have.getFields();
        for (const f of Object.values(want.getFields())) {
          const hf = haveFields[f.name];
          if (!hf) {
            missing.push(`${name}.${f.name}`);
            continue;
          }
          if (String(hf.type) !== String(f.type))
            missing.push(`${name}.${f.name}: ${hf.type} (contract ${f.type})`);
          for (const a of f.args) {
            const ha = hf.args.find((x) => x.name === a.name);
            if (!ha) missing.push(`${name}.${f.name}(${a.name})`);
            else if (String(ha.type) !== String(a.type))
              missing.push(`${name}.${f.name}(${a.name}: ${ha.type}, contract ${a.type})`);
          }
        }
        if (isObjectType(want) && isObjectType(have)) {
          for (const i of want.getInterfaces())
            if (!have.getInterfaces().some((x) => x.name === i.name))
              missing.push(`${name} implements ${i.name}`);
        }
      }
      if (isInputObjectType(want) && isInputObjectType(have)) {
        const haveFields = have.getFields();
        for (const f of Object.values(want.getFields())) {
          const hf = haveFields[f.name];
          if (!hf) missing.push(`${name}.${f.name}`);
          else if (String(hf.type) !== String(f.type))
            missing.push(`${name}.${f.name}: ${hf.type} (contract ${f.type})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
