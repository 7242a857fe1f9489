//! Stock of one product at one outlet: on hand, reserved, and the moves between them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stream id of the stock of `product_id` at `outlet_id`: `<product_id>.<outlet_id>`.
pub fn stock_stream_id(product_id: Uuid, outlet_id: Uuid) -> String {
    format!("{product_id}.{outlet_id}")
}

/// The product and outlet of a stock stream id, if it is one.
pub fn parse_stock_stream_id(stream_id: &str) -> Option<(Uuid, Uuid)> {
    let (p, o) = stream_id.split_once('.')?;
    Some((Uuid::parse_str(p).ok()?, Uuid::parse_str(o).ok()?))
}

/// Moves of one product's stock at one outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum StockCommand {
    /// Goods arrive.
    Receive(Receive),
    /// A count correction, up or down, with a reason.
    Adjust(Adjust),
    /// Holds units for a reference (a cart, an order).
    Reserve(Reserve),
    /// Gives a reservation's units back.
    Release(Release),
    /// Units leave: from a reservation, or directly.
    Sell(Sell),
}

/// Goods received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    /// How many, more than zero.
    pub quantity: i64,
    /// A delivery note or supplier reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A count correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjust {
    /// Units added (positive) or removed (negative); not zero.
    pub delta: i64,
    /// Why (a count, breakage, expiry).
    pub reason: String,
}

/// A reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserve {
    /// What holds the units (an order id); one reservation per reference.
    pub reference: String,
    /// How many, more than zero.
    pub quantity: i64,
}

/// The end of a reservation without a sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The reservation's reference.
    pub reference: String,
}

/// A sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sell {
    /// How many; from a reservation it defaults to (and may not exceed) the reserved units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// The reservation sold from; the rest of it is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// What happened to a product's stock at an outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum StockEvent {
    /// `stock.received`.
    Received(Receive),
    /// `stock.adjusted`.
    Adjusted(Adjust),
    /// `stock.reserved`.
    Reserved(Reserve),
    /// `stock.released`: the reservation and the units it held.
    Released(Reserve),
    /// `stock.sold`: units sold, and the reservation they came from.
    Sold(Sold),
}

/// Units sold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sold {
    /// How many.
    pub quantity: i64,
    /// The reservation they came from (it ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// A product's stock at an outlet, as its events fold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// Units on the premises.
    pub on_hand: i64,
    /// Units held by reservations (part of `on_hand`).
    pub reserved: i64,
    /// Open reservations: reference → units.
    pub reservations: BTreeMap<String, i64>,
}

impl Stock {
    /// Units that can be reserved or sold directly.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    /// The stock after `event`.
    pub fn apply(mut self, event: &StockEvent) -> Self {
        match event {
            StockEvent::Received(r) => self.on_hand += r.quantity,
            StockEvent::Adjusted(a) => self.on_hand += a.delta,
            StockEvent::Reserved(r) => {
                self.reserved += r.quantity;
                self.reservations.insert(r.reference.clone(), r.quantity);
            }
            StockEvent::Released(r) => {
                if let Some(q) = self.reservations.remove(&r.reference) {
                    self.reserved -= q;
                }
            }
            StockEvent::Sold(s) => {
                self.on_hand -= s.quantity;
                if let Some(q) = s
                    .reservation
                    .as_ref()
                    .and_then(|r| self.reservations.remove(r))
                {
                    self.reserved -= q;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_stream_ids_round_trip() {
        let (p, o) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(parse_stock_stream_id(&stock_stream_id(p, o)), Some((p, o)));
    }
}
