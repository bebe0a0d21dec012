//! Picks each next token. With a grammar it first samples freely and asks the grammar only
//! about that one token; the whole vocabulary goes through the grammar only when the free
//! pick is not allowed. Checking every token every step is what makes constrained
//! generation slow, and most free picks of a prompted model are already valid.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use crate::{Constraint, GenerationOptions, LlmError};

pub(super) struct TokenSampler {
    grammar: Option<LlamaSampler>,
    chain: LlamaSampler,
    /// Temperature 0 without a grammar: the most likely token, read straight
    /// from the logits (llama.cpp's sampler would copy the whole vocabulary first).
    argmax: bool,
}

impl TokenSampler {
    pub(super) fn new(model: &LlamaModel, options: &GenerationOptions) -> Result<Self, LlmError> {
        let grammar = options
            .constraint
            .as_ref()
            .map(|constraint| grammar_sampler(model, constraint))
            .transpose()?;
        let chain = if options.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(options.top_p, 1),
                LlamaSampler::min_p(0.05, 1),
                LlamaSampler::temp(options.temperature),
                LlamaSampler::dist(options.seed),
            ])
        };
        let argmax = grammar.is_none() && options.temperature <= 0.0;
        Ok(Self {
            grammar,
            chain,
            argmax,
        })
    }

    /// The next token after the logits at `index` of the last batch; `None` if the grammar
    /// allows no token at all.
    pub(super) fn sample(&mut self, context: &LlamaContext<'_>, index: i32) -> Option<LlamaToken> {
        if self.argmax {
            return most_likely(context.get_logits_ith(index));
        }
        let Some(grammar) = &mut self.grammar else {
            return Some(self.chain.sample(context, index));
        };
        let mut candidates = context.token_data_array_ith(index);
        candidates.apply_sampler(&mut self.chain);
        let free_pick = candidates.selected_token();
        let token = match free_pick {
            Some(token) if allows(grammar, token) => token,
            _ => {
                let mut candidates = context.token_data_array_ith(index);
                candidates.apply_sampler(grammar);
                if candidates
                    .data
                    .iter()
                    .all(|data| data.logit() == f32::NEG_INFINITY)
                {
                    return None;
                }
                candidates.apply_sampler(&mut self.chain);
                candidates.selected_token()?
            }
        };
        grammar.accept(token);
        self.chain.accept(token);
        Some(token)
    }
}

/// The first token with the highest logit, as llama.cpp's greedy sampler picks.
fn most_likely(logits: &[f32]) -> Option<LlamaToken> {
    let mut best: Option<(usize, f32)> = None;
    for (index, &logit) in logits.iter().enumerate() {
        if best.is_none_or(|(_, top)| logit > top) {
            best = Some((index, logit));
        }
    }
    best.and_then(|(index, _)| i32::try_from(index).ok().map(LlamaToken))
}

fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    single.apply_sampler(grammar);
    single
        .data
        .first()
        .is_some_and(|data| data.logit() != f32::NEG_INFINITY)
}

fn grammar_sampler(model: &LlamaModel, constraint: &Constraint) -> Result<LlamaSampler, LlmError> {
    let grammar = match constraint {
        Constraint::JsonSchema(schema) => llama_cpp_2::json_schema_to_grammar(&schema.to_string())
            .map_err(|error| {
                LlmError::InvalidConstraint(format!(
                    "cannot turn the JSON schema into a grammar: {error}"
                ))
            })?,
        Constraint::Grammar(grammar) => grammar.clone(),
    };
    LlamaSampler::grammar(model, &grammar, "root").map_err(|error| {
        LlmError::InvalidConstraint(format!("llama.cpp rejected the grammar: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_highest_logit_wins_as_in_llama_cpp() {
        assert_eq!(most_likely(&[0.5, 2.0, -1.0, 2.0]), Some(LlamaToken(1)));
        assert_eq!(most_likely(&[f32::NEG_INFINITY, -3.0]), Some(LlamaToken(1)));
        assert_eq!(most_likely(&[]), None);
    }
}
