//! Pass criteria: a small expression language over a measurement's fields.
//!
//! ```text
//! expr   := and ("or" and)*
//! and    := term ("and" term)*
//! term   := "(" expr ")" | operand op operand
//! op     := ">=" | ">" | "<=" | "<" | "==" | "!="
//! operand:= field | number
//! field  := estimate | ci_low | ci_high | n | p_value | p_adjusted | difference
//!         | difference_ci_low | difference_ci_high
//! ```
//! Evaluation is three-valued: a comparison involving a field the measurement does not have
//! (no interval, no p-value) is *undecided*, and undecided never becomes pass. `and` and `or`
//! follow Kleene's logic, so `false and undecided` is false and `true or undecided` is true.

use std::fmt;

/// Fields a pass expression may name.
pub const FIELDS: &[&str] = &[
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "p_adjusted",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
];

/// A parsed pass expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Cmp(Operand, Op, Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(String),
    Number(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

/// A parse error: message, byte offset and length within the expression text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    /// A close field name when an unknown one was used.
    pub suggestion: Option<&'static str>,
}

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Undecided,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize, usize)>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'(' || c == b')' {
            out.push((if c == b'(' { Tok::LParen } else { Tok::RParen }, i, 1));
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), start, i - start));
        } else if c.is_ascii_digit() || c == b'.' || c == b'-' {
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || b[i] == b'.'
                    || b[i] == b'e'
                    || b[i] == b'E'
                    || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            let text = &src[start..i];
            let x: f64 = text.parse().map_err(|_| ExprError {
                message: format!("`{text}` is not a number"),
                offset: start,
                len: i - start,
                suggestion: None,
            })?;
            out.push((Tok::Num(x), start, i - start));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let (op, len) = match two {
                ">=" => (Op::Ge, 2),
                "<=" => (Op::Le, 2),
                "==" => (Op::Eq, 2),
                "!=" => (Op::Ne, 2),
                _ => match c {
                    b'>' => (Op::Gt, 1),
                    b'<' => (Op::Lt, 1),
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(ExprError {
                            message: format!("unexpected character `{ch}`"),
                            offset: i,
                            len: ch.len_utf8(),
                            suggestion: None,
                        });
                    }
                },
            };
            out.push((Tok::Op(op), i, len));
            i += len;
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize, usize)>,
    at: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&(Tok, usize, usize)> {
        self.toks.get(self.at)
    }

    fn err_here(&self, message: impl Into<String>) -> ExprError {
        let (offset, len) = self
            .peek()
            .map_or((self.src.len(), 1), |(_, o, l)| (*o, *l));
        ExprError {
            message: message.into(),
            offset,
            len,
            suggestion: None,
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some((Tok::Ident(s), _, _)) if s == kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        if matches!(self.peek(), Some((Tok::LParen, _, _))) {
            self.at += 1;
            let e = self.expr()?;
            if !matches!(self.peek(), Some((Tok::RParen, _, _))) {
                return Err(self.err_here("expected `)`"));
            }
            self.at += 1;
            return Ok(e);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Some((Tok::Op(op), _, _)) => *op,
            _ => return Err(self.err_here("expected a comparison: >=, >, <=, <, ==, !=")),
        };
        self.at += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match self.peek().cloned() {
            Some((Tok::Num(x), _, _)) => {
                self.at += 1;
                Ok(Operand::Number(x))
            }
            Some((Tok::Ident(name), offset, len)) => {
                if FIELDS.contains(&name.as_str()) {
                    self.at += 1;
                    Ok(Operand::Field(name))
                } else {
                    Err(ExprError {
                        message: format!(
                            "unknown field `{name}`; expected one of: {}",
                            FIELDS.join(", ")
                        ),
                        offset,
                        len,
                        suggestion: super::diag::closest(&name, FIELDS.iter().copied()),
                    })
                }
            }
            _ => Err(self.err_here("expected a field name or a number")),
        }
    }
}

/// Parses a pass expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, at: 0, src };
    let e = p.expr()?;
    if p.peek().is_some() {
        return Err(p.err_here("expected `and`, `or` or the end of the expression"));
    }
    Ok(e)
}

impl Expr {
    /// The fields the expression names, in order of appearance, without repeats.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Expr::Cmp(l, _, r) => {
                for o in [l, r] {
                    if let Operand::Field(f) = o {
                        if !out.contains(&f.as_str()) {
                            out.push(f);
                        }
                    }
                }
            }
        }
    }

    /// Evaluates against a measurement; `field` returns None for a value the measurement lacks.
    /// The goal a criterion sets on the interval's lower bound: `x` in `ci_low >= x` or
    /// `ci_low > x` (or `x <= ci_low`), alone or in a conjunction (the largest such x). None for
    /// other criteria, and when an `or` makes the goal ambiguous.
    pub fn lower_bound_goal(&self) -> Option<f64> {
        match self {
            Expr::Or(..) => None,
            Expr::And(a, b) => match (a.lower_bound_goal(), b.lower_bound_goal()) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
            Expr::Cmp(Operand::Field(f), Op::Ge | Op::Gt, Operand::Number(x))
            | Expr::Cmp(Operand::Number(x), Op::Le | Op::Lt, Operand::Field(f))
                if f == "ci_low" =>
            {
                Some(*x)
            }
            Expr::Cmp(..) => None,
        }
    }

    pub fn eval(&self, field: &dyn Fn(&str) -> Option<f64>) -> Truth {
        match self {
            Expr::Or(a, b) => match (a.eval(field), b.eval(field)) {
                (Truth::True, _) | (_, Truth::True) => Truth::True,
                (Truth::False, Truth::False) => Truth::False,
                _ => Truth::Undecided,
            },
            Expr::And(a, b) => match (a.eval(field), b.eval(field)) {
                (Truth::False, _) | (_, Truth::False) => Truth::False,
                (Truth::True, Truth::True) => Truth::True,
                _ => Truth::Undecided,
            },
            Expr::Cmp(l, op, r) => {
                let value = |o: &Operand| match o {
                    Operand::Number(x) => Some(*x),
                    Operand::Field(f) => field(f).filter(|x| !x.is_nan()),
                };
                match (value(l), value(r)) {
                    (Some(a), Some(b)) => {
                        let t = match op {
                            Op::Ge => a >= b,
                            Op::Gt => a > b,
                            Op::Le => a <= b,
                            Op::Lt => a < b,
                            Op::Eq => a == b,
                            Op::Ne => a != b,
                        };
                        if t {
                            Truth::True
                        } else {
                            Truth::False
                        }
                    }
                    _ => Truth::Undecided,
                }
            }
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str, fields: &[(&str, f64)]) -> Truth {
        let e = parse(src).unwrap();
        e.eval(&|name| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false and true or true = (false and true) or true = true
        let f = [("ci_low", 0.7), ("n", 50.0)];
        assert_eq!(eval("ci_low >= 0.8 and n >= 30 or n > 40", &f), Truth::True);
        assert_eq!(
            eval("ci_low >= 0.8 and (n >= 30 or n > 40)", &f),
            Truth::False
        );
    }

    #[test]
    fn missing_field_is_undecided_never_true() {
        assert_eq!(
            eval("ci_low >= 0.8", &[("estimate", 0.9)]),
            Truth::Undecided
        );
        assert_eq!(eval("ci_low >= 0.8 and n > 1", &[("n", 0.0)]), Truth::False);
        assert_eq!(eval("ci_low >= 0.8 or n > 1", &[("n", 5.0)]), Truth::True);
        assert_eq!(
            eval("ci_low >= 0.8", &[("ci_low", f64::NAN)]),
            Truth::Undecided
        );
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let e = parse("ci_lo >= 0.8").unwrap_err();
        assert_eq!((e.offset, e.len), (0, 5));
        assert_eq!(e.suggestion, Some("ci_low"));
        let e = parse("ci_low => 0.8").unwrap_err();
        assert_eq!(e.offset, 7, "{e:?}");
        let e = parse("ci_low >= 0.8 and").unwrap_err();
        assert_eq!(e.offset, 17);
        assert!(parse("estimate >= 1e-3 and p_value < 0.05").is_ok());
    }
}
