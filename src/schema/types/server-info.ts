import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('GpuAdapter', { description: 'The GPU a webgpu backend runs on, as its driver reports it.' })
export class GpuAdapter {
  @Field({ description: 'e.g. "nvidia"; may be empty (software and GL ES adapters often report none).' })
  vendor!: string;
  @Field({ description: 'e.g. "hopper"; may be empty.' }) architecture!: string;
  @Field({ description: 'Device name, e.g. "NVIDIA H200" or "llvmpipe (LLVM 15.0.6, 256 bits)".' })
  device!: string;
  @Field({ description: 'Driver description.' }) description!: string;
  @Field({
    description: 'A CPU rasteriser (llvmpipe, lavapipe, SwiftShader …), not a GPU: `auto` never picks one.',
  })
  software!: boolean;
  @Field(() => Int, {
    description: 'Memory budget of each GPU device in MiB (PROMPTGEN_GPU_MEMORY_MB); a job past it FAILS.',
  })
  memoryBudgetMb!: number;
}

@ObjectType('ServerInfo', {
  description: 'What this API process computes on. Training threads choose their backend the same way.',
})
export class ServerInfo {
  @Field(() => String, {
    nullable: true,
    description:
      'TF.js backend: webgpu, tensorflow, wasm or cpu; null where this process runs no tensor runtime.',
  })
  backend!: string | null;
  @Field(() => GpuAdapter, { nullable: true, description: 'The adapter, when backend is webgpu.' })
  adapter!: GpuAdapter | null;
}
