mod midtrans;

pub use midtrans::FakeMidtrans;
