//! The attributes llama.cpp's vocabulary loader gives each token: its type
//! from the file, corrected by name (end-of-generation and
//! fill-in-the-middle look-alikes, gpt-oss's and gemma4's exceptions,
//! Phi-3's strip flags). They decide which tokens are split out of a text.

use std::collections::HashMap;

use super::super::TokenizerError;
use super::super::gguf::Metadata;

/// llama.cpp's token types (`llama_token_type`).
mod token_type {
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
}

/// Token attributes as llama.cpp derives them, as far as they decide which
/// tokens are split out of a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Attr {
    pub(super) control: bool,
    pub(super) user_defined: bool,
    pub(super) unknown: bool,
    pub(super) lstrip: bool,
    pub(super) rstrip: bool,
}

/// Names llama.cpp's loader always treats as end-of-generation tokens, and
/// so makes control tokens.
const EOG_NAMES: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Fill-in-the-middle names by the key that, when present, names the token
/// instead (llama.cpp makes a look-alike a control token only then).
const FIM_NAMES: &[(&[&str], &[&str])] = &[
    (
        &[
            "tokenizer.ggml.fim_pre_token_id",
            "tokenizer.ggml.prefix_token_id",
        ],
        &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<｜fim▁begin｜>",
            "<PRE>",
            "▁<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_suf_token_id",
            "tokenizer.ggml.suffix_token_id",
        ],
        &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<｜fim▁hole｜>",
            "<SUF>",
            "▁<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_mid_token_id",
            "tokenizer.ggml.middle_token_id",
        ],
        &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<｜fim▁end｜>",
            "<MID>",
            "▁<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
    ),
    (
        &["tokenizer.ggml.fim_pad_token_id"],
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    ),
    (
        &["tokenizer.ggml.fim_rep_token_id"],
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    (&["tokenizer.ggml.fim_sep_token_id"], &["<|file_sep|>"]),
];

/// Keys whose token ids llama.cpp adds to the end-of-generation set.
const EOG_ID_KEYS: &[&str] = &[
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
];

/// A token id key's value, if present and in range (llama.cpp ignores one
/// out of range).
fn id_key(meta: &Metadata, key: &str, n: usize) -> Result<Option<usize>, TokenizerError> {
    let Some(value) = meta.get(key) else {
        return Ok(None);
    };
    let id = value
        .as_u32()
        .map_err(|w| meta.error(format!("{key} is {}, not a uint32", w.found)))?;
    Ok(usize::try_from(id).ok().filter(|&id| id < n))
}

/// The attributes llama.cpp's loader gives each token: from its type,
/// then corrected by name.
pub(super) fn attributes(
    meta: &Metadata,
    texts: &[Vec<u8>],
    ids: &HashMap<Vec<u8>, u32>,
    types: &[i32],
) -> Result<Vec<Attr>, TokenizerError> {
    let n = texts.len();
    let mut attrs: Vec<Attr> = types
        .iter()
        .map(|&t| Attr {
            control: t == token_type::CONTROL,
            user_defined: t == token_type::USER_DEFINED,
            unknown: t == token_type::UNKNOWN,
            ..Attr::default()
        })
        .collect();
    let id_of = |name: &str| ids.get(name.as_bytes()).map(|&id| id as usize);

    // Fill-in-the-middle look-alikes, when no key names the token.
    for (keys, names) in FIM_NAMES {
        let mut named = false;
        for key in *keys {
            named |= id_key(meta, key, n)?.is_some();
        }
        if !named {
            for id in names.iter().filter_map(|name| id_of(name)) {
                attrs[id].control = true;
            }
        }
    }

    // End-of-generation tokens: by name, and by id (the end-of-sequence
    // token defaults to 2 in an SPM vocabulary).
    let mut eog: Vec<usize> = EOG_NAMES.iter().filter_map(|name| id_of(name)).collect();
    for &id in &eog {
        attrs[id].control = true;
    }
    for key in EOG_ID_KEYS {
        let default = (*key == "tokenizer.ggml.eos_token_id" && n > 2).then_some(2);
        if let Some(id) = id_key(meta, key, n)?.or(default) {
            eog.push(id);
        }
    }
    let in_eog = |name: &str| eog.iter().any(|&id| texts[id] == name.as_bytes());

    // gpt-oss's tokens that are always shown.
    for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(id) = id_of(name) {
            attrs[id] = Attr {
                user_defined: true,
                ..Attr::default()
            };
        }
    }
    // o200k_harmony and solar-open: <|end|> is not an end of generation.
    let has_call = in_eog("<|call|>") || in_eog("<|calls|>");
    if has_call
        && (in_eog("<|return|>") || in_eog("<|flush|>"))
        && let Some(id) = id_of("<|end|>").filter(|_| in_eog("<|end|>"))
    {
        attrs[id] = Attr {
            user_defined: true,
            ..Attr::default()
        };
    }
    // gemma4 and plamo: </s> is a normal token.
    if (in_eog("<|tool_response>") || in_eog("<|plamo:eos|>"))
        && let Some(id) = id_of("</s>").filter(|_| in_eog("</s>"))
    {
        attrs[id] = Attr::default();
    }

    // Phi-3 strips whitespace after its special tokens.
    let name = match meta.get("general.name") {
        Some(v) => v
            .as_str()
            .map(|s| String::from_utf8_lossy(s).to_lowercase())
            .unwrap_or_default(),
        None => String::new(),
    };
    if name.contains("phi-3") || name.contains("phi3") {
        for a in &mut attrs {
            if a.control || a.user_defined || a.unknown {
                a.rstrip = true;
            }
        }
        if let Some(id) = id_of("</s>") {
            attrs[id].rstrip = true;
        }
        for name in ["<unk>", "<s>", "<|endoftext|>"] {
            if let Some(id) = id_of(name) {
                attrs[id].rstrip = false;
            }
        }
    }
    Ok(attrs)
}
