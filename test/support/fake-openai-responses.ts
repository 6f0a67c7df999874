// Responses API (`POST /v1/responses`) builders for the fake OpenAI server: the non-streamed
// `response` object and the `response.*` SSE event sequence, both deterministic.
import {
  type BuildContext,
  type Json,
  type ReplyPlan,
  contentText,
  countTokens,
  datedModel,
  fakeId,
  isReasoningModel,
  isRecord,
  pickTool,
  requireModel,
  sampleForSchema,
  splitDeltas,
  truncateToTokens,
} from './fake-openai-fixtures.js';

type InputItem =
  | { kind: 'message'; role: string; text: string }
  | { kind: 'tool_output'; text: string }
  | { kind: 'other'; text: string };

function inputItems(input: unknown): InputItem[] {
  if (typeof input === 'string') return [{ kind: 'message', role: 'user', text: input }];
  if (!Array.isArray(input)) return [];
  return input.filter(isRecord).map((item): InputItem => {
    if (item.type === 'function_call_output') {
      const out = typeof item.output === 'string' ? item.output : contentText(item.output);
      return { kind: 'tool_output', text: out };
    }
    if (typeof item.role === 'string')
      return { kind: 'message', role: item.role, text: contentText(item.content) };
    return { kind: 'other', text: JSON.stringify(item) };
  });
}

export function planResponse(body: Json, ctx: BuildContext): ReplyPlan {
  const items = inputItems(body.input);
  const last = items.at(-1);
  const limit = body.max_output_tokens;
  if (ctx.contentOverride !== undefined)
    return { kind: 'text', ...truncateToTokens(ctx.contentOverride, limit) };
  if (last?.kind === 'tool_output') {
    const results: string[] = [];
    for (let i = items.length - 1; i >= 0 && items[i]?.kind === 'tool_output'; i--)
      results.unshift(items[i]?.text ?? '');
    return { kind: 'text', ...truncateToTokens(`tool result: ${results.join('; ')}`, limit) };
  }
  const lastUser = [...items].reverse().find((i) => i.kind === 'message' && i.role === 'user');
  const userText = lastUser?.text ?? '';
  const isUserLast = last?.kind === 'message' && last.role === 'user';
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const tool = isUserLast
    ? pickTool(tools, body.tool_choice, (t) => (typeof t.name === 'string' ? t.name : undefined))
    : undefined;
  if (tool !== undefined) {
    const args = sampleForSchema(tool.parameters ?? { type: 'object' }, userText);
    return {
      kind: 'tool',
      name: String(tool.name),
      args: JSON.stringify(isRecord(args) ? args : {}),
      callId: fakeId('call_', ctx.seq),
    };
  }
  return { kind: 'text', ...truncateToTokens(`echo: ${userText}`, limit) };
}

function usageFor(body: Json, plan: ReplyPlan, ctx: BuildContext): Json {
  const instructions = typeof body.instructions === 'string' ? body.instructions : '';
  let input = countTokens(instructions) + (instructions ? 4 : 0);
  for (const item of inputItems(body.input)) input += 4 + countTokens(item.text);
  if (Array.isArray(body.tools) && body.tools.length > 0)
    input += countTokens(JSON.stringify(body.tools));
  const reasoning = isReasoningModel(String(body.model)) ? ctx.reasoningTokens : 0;
  const visible =
    plan.kind === 'text'
      ? countTokens(plan.text)
      : countTokens(plan.name) + countTokens(plan.args) + 7;
  const output = visible + reasoning;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: Math.min(ctx.cachedTokens, input) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + output,
  };
}

function outputItems(body: Json, plan: ReplyPlan, ctx: BuildContext): Json[] {
  const items: Json[] = [];
  if (isReasoningModel(String(body.model)))
    items.push({ id: fakeId('rs_', ctx.seq), type: 'reasoning', summary: [] });
  if (plan.kind === 'text') {
    items.push({
      id: fakeId('msg_', ctx.seq),
      type: 'message',
      status: plan.truncated ? 'incomplete' : 'completed',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: plan.text }],
      role: 'assistant',
    });
  } else {
    items.push({
      id: fakeId('fc_', ctx.seq),
      type: 'function_call',
      status: 'completed',
      arguments: plan.args,
      call_id: plan.callId,
      name: plan.name,
    });
  }
  return items;
}

function responseObject(body: Json, ctx: BuildContext, plan: ReplyPlan, done: boolean): Json {
  const model = String(body.model);
  const truncated = plan.kind === 'text' && plan.truncated;
  const reasoning = isRecord(body.reasoning) ? body.reasoning : {};
  return {
    id: fakeId('resp_', ctx.seq),
    object: 'response',
    created_at: ctx.created,
    status: !done ? 'in_progress' : truncated ? 'incomplete' : 'completed',
    background: false,
    completed_at: done && !truncated ? ctx.created : null,
    error: null,
    incomplete_details: done && truncated ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: datedModel(model),
    output: done ? outputItems(body, plan, ctx) : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: null,
    reasoning: {
      effort: reasoning.effort ?? (isReasoningModel(model) ? 'medium' : null),
      summary: reasoning.summary ?? null,
    },
    safety_identifier: null,
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    usage: done ? usageFor(body, plan, ctx) : null,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

export function validateResponses(body: Json): void {
  requireModel(body);
}

export function buildResponse(body: Json, ctx: BuildContext): Json {
  return responseObject(body, ctx, planResponse(body, ctx), true);
}

/** The SSE events of a streamed response, in order; each has `type` (also the SSE `event:` name). */
export function buildResponseEvents(body: Json, ctx: BuildContext): Json[] {
  const plan = planResponse(body, ctx);
  const events: Json[] = [];
  const emit = (type: string, fields: Json): void => {
    events.push({ type, sequence_number: events.length, ...fields });
  };
  emit('response.created', { response: responseObject(body, ctx, plan, false) });
  emit('response.in_progress', { response: responseObject(body, ctx, plan, false) });
  const final = responseObject(body, ctx, plan, true);
  const items = Array.isArray(final.output) ? final.output.filter(isRecord) : [];
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === 'message') {
      const text = plan.kind === 'text' ? plan.text : '';
      const emptyPart = { type: 'output_text', annotations: [], logprobs: [], text: '' };
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', content: [] },
      });
      emit('response.content_part.added', {
        item_id,
        output_index,
        content_index: 0,
        part: emptyPart,
      });
      for (const delta of splitDeltas(text)) {
        emit('response.output_text.delta', {
          item_id,
          output_index,
          content_index: 0,
          delta,
          logprobs: [],
        });
      }
      emit('response.output_text.done', {
        item_id,
        output_index,
        content_index: 0,
        text,
        logprobs: [],
      });
      emit('response.content_part.done', {
        item_id,
        output_index,
        content_index: 0,
        part: { ...emptyPart, text },
      });
    } else if (item.type === 'function_call') {
      const args = String(item.arguments);
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      for (const delta of splitDeltas(args)) {
        emit('response.function_call_arguments.delta', { item_id, output_index, delta });
      }
      emit('response.function_call_arguments.done', {
        item_id,
        output_index,
        name: item.name,
        arguments: args,
      });
    } else {
      emit('response.output_item.added', { output_index, item });
    }
    emit('response.output_item.done', { output_index, item });
  });
  emit(final.status === 'incomplete' ? 'response.incomplete' : 'response.completed', {
    response: final,
  });
  return events;
}
