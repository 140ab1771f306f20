/**
 * Every GraphQL operation the Studio sends, written against the public schema
 * (../schema.graphql). GraphQL Code Generator turns each into a typed document
 * in src/gql at build time, so a renamed field fails the build, not the user.
 */
import { graphql } from './gql';

export const SampleSetFields = graphql(`
  fragment SampleSetFields on SampleSet {
    id
    kind
    step
    seed
    truncation
    condition
    count
    createdAt
    gridUrl
    generator {
      name
    }
    images {
      index
      url
      width
      height
    }
  }
`);

export const ProgressFields = graphql(`
  fragment ProgressFields on TrainingProgress {
    promptId
    status
    step
    totalSteps
    loss
    logDet
    energies {
      control
      value
    }
    stepsPerSecond
    etaSeconds
    at
  }
`);

export const CatalogQuery = graphql(`
  query Catalog {
    generators {
      id
      name
      title
      description
      latentDim
      available
      output {
        width
        height
        channels
      }
      plugin {
        name
        version
      }
      basePrompt {
        id
        name
        status
      }
    }
    controls {
      id
      name
      title
      description
      paramsSchema
      conditionDim
      paired
      available
      plugin {
        name
        version
      }
    }
    plugins {
      id
      name
      version
      source
      status
      error
      spec
      generators {
        name
      }
      controls {
        name
      }
    }
  }
`);

export const SampleMutation = graphql(`
  mutation Sample($input: SampleInput!) {
    sample(input: $input) {
      sampleSet {
        ...SampleSetFields
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`);

export const CreatePromptMutation = graphql(`
  mutation CreatePrompt($input: CreatePromptInput!) {
    createPrompt(input: $input) {
      prompt {
        id
        status
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`);

export const PromptQuery = graphql(`
  query PromptPage($id: ID!, $setsAfter: String) {
    prompt(id: $id) {
      id
      name
      status
      error
      metrics
      createdAt
      startedAt
      finishedAt
      generator {
        id
        name
        title
        available
        basePrompt {
          id
          name
        }
      }
      asGenerator {
        id
        name
      }
      controls {
        weight
        params
        control {
          name
          title
          conditionDim
        }
      }
      training {
        steps
        batchSize
        learningRate
        flowBlocks
        hiddenUnits
        seed
        previewEvery
      }
      progress {
        ...ProgressFields
      }
      history {
        ...ProgressFields
      }
      sampleSets(first: 12, after: $setsAfter) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        nodes {
          ...SampleSetFields
        }
      }
    }
  }
`);

export const TrainingProgressSubscription = graphql(`
  subscription TrainingProgressLive($id: ID!) {
    trainingProgress(promptId: $id) {
      ...ProgressFields
    }
  }
`);

export const SampleBatchesSubscription = graphql(`
  subscription SampleBatchesLive($id: ID!) {
    sampleBatches(promptId: $id) {
      ...SampleSetFields
    }
  }
`);

export const CancelPromptMutation = graphql(`
  mutation CancelPrompt($id: ID!) {
    cancelPrompt(input: { id: $id }) {
      prompt {
        id
        status
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`);

export const PromptsQuery = graphql(`
  query Prompts($status: PromptStatus, $after: String, $first: Int) {
    prompts(status: $status, after: $after, first: $first) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        name
        status
        createdAt
        generator {
          name
        }
        controls {
          weight
          control {
            name
          }
        }
        progress {
          step
          totalSteps
        }
      }
    }
  }
`);

export const StatusLiveSubscription = graphql(`
  subscription PromptStatusLive($id: ID!) {
    trainingProgress(promptId: $id) {
      promptId
      status
      step
      totalSteps
    }
  }
`);

export const InstallPluginMutation = graphql(`
  mutation InstallPlugin($spec: String!) {
    installPlugin(input: { spec: $spec }) {
      plugin {
        id
        name
        version
        status
        error
        generators {
          name
        }
        controls {
          name
        }
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`);

export const UninstallPluginMutation = graphql(`
  mutation UninstallPlugin($name: String!) {
    uninstallPlugin(input: { name: $name }) {
      removed
      userErrors {
        field
        message
        code
      }
    }
  }
`);
